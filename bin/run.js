#!/usr/bin/env node
// Entry point. `thoth run` is started once per MCP server when a client launches, so it takes a
// fast path that never loads oclif: every millisecond here delays the user's first tool.
const argv = process.argv.slice(2);

function wantsHelp(args) {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

if (argv[0] === 'run' && !wantsHelp(argv)) {
  const {runMain} = await import('../dist/proxy/main.js');
  await runMain(argv.slice(1));
} else {
  const {execute} = await import('@oclif/core');
  await execute({dir: import.meta.url});
}
