import {RUN_FLAGS} from '../core/run-flags.js';

/**
 * The command line of a wrapped server entry, the stable contract between wrap-config and
 * `thoth run`:
 *
 *   command: <launcher>   args: [...<launcher prefix>, "run", "--agent-id", <name>, ...flags, "--", <original command>, ...<original args>]
 *
 * The launcher is either a directly executable thoth (`--thoth-bin`, prefix empty) or the node
 * running thoth plus thoth's `bin/run.js` (the default, because clients start servers with a
 * minimal PATH in which `#!/usr/bin/env node` finds no node).
 */

export interface Launcher {
  command: string;
  /** Arguments before "run": [] for a thoth binary, [<abs path of bin/run.js>] for node. */
  prefix: string[];
}

/** A `thoth run` flag as written in a config; `value` is undefined for boolean flags. */
export interface RunFlag {
  name: string;
  value?: string;
}

export type ParsedCommand =
  | {kind: 'plain'}
  | {
      kind: 'wrapped';
      launcher: Launcher;
      flags: RunFlag[];
      inner: {command: string; args: string[]};
      /** How many leading elements of `args` belong to thoth (everything before the original args). */
      prefixLength: number;
    }
  /** Looks like thoth (its name, "run") but the arguments do not parse: never wrap it again. */
  | {kind: 'unrecognised'; reason: string};

const FLAG_SPECS = RUN_FLAGS as Record<string, {type: 'string' | 'boolean'}>;
/** Flags wrap-config manages, in the order it writes them; other flags keep their order after these. */
export const MANAGED_FLAGS = ['agent-id', 'tenant-id', 'enforcement-mode', 'session-intent', 'api-key'] as const;
/** How far into args "run" may sit: after a script (node bin/run.js) or a package runner (npx -y thoth-mcp). */
const MAX_LAUNCHER_PREFIX = 3;

export function parseCommand(command: string, args: readonly string[]): ParsedCommand {
  const thothNamed = isThothName(command);
  let firstProblem: string | undefined;
  for (let index = 0; index <= Math.min(MAX_LAUNCHER_PREFIX, args.length - 1); index++) {
    if (args[index] !== 'run') continue;
    const parsed = parseRunTail(args, index + 1);
    if ('problem' in parsed) {
      firstProblem ??= parsed.problem;
      continue;
    }
    const hasAgent = parsed.flags.some((flag) => flag.name === 'agent-id');
    // A bare "thoth run -- x" (the documented manual form) counts; anything else must carry --agent-id.
    if (hasAgent || (thothNamed && index === 0)) {
      return {
        kind: 'wrapped',
        launcher: {command, prefix: args.slice(0, index)},
        flags: parsed.flags,
        inner: {command: args[parsed.separator + 1]!, args: args.slice(parsed.separator + 2)},
        prefixLength: parsed.separator + 2,
      };
    }
  }
  if (thothNamed) {
    return {kind: 'unrecognised', reason: firstProblem ?? 'runs thoth without `run ... -- <server command>`'};
  }
  return {kind: 'plain'};
}

function parseRunTail(args: readonly string[], start: number): {flags: RunFlag[]; separator: number} | {problem: string} {
  const flags: RunFlag[] = [];
  let index = start;
  while (index < args.length) {
    const token = args[index]!;
    if (token === '--') {
      if (index + 1 >= args.length) return {problem: 'no server command after `--`'};
      return {flags, separator: index};
    }
    if (!token.startsWith('--')) return {problem: `unexpected argument "${token}" before \`--\``};
    const equals = token.indexOf('=');
    const name = token.slice(2, equals === -1 ? undefined : equals);
    const spec = FLAG_SPECS[name];
    if (!spec) return {problem: `unknown \`thoth run\` flag --${name}`};
    if (spec.type === 'boolean') {
      flags.push({name});
      index += 1;
    } else if (equals !== -1) {
      flags.push({name, value: token.slice(equals + 1)});
      index += 1;
    } else {
      const value = args[index + 1];
      if (value === undefined || value === '--') return {problem: `--${name} has no value`};
      flags.push({name, value});
      index += 2;
    }
  }
  return {problem: 'no `--` before the server command'};
}

/** `thoth`, `thoth.exe`, `thoth.cmd`, `thoth-macos-universal`, `thoth-windows-x86_64.exe`, with any directory. */
export function isThothName(command: string): boolean {
  return /^thoth([-_.][^/\\]*)?$/i.test(baseName(command));
}

export function baseName(file: string): string {
  const parts = file.split(/[/\\]/);
  return parts[parts.length - 1] ?? file;
}

export function flagValue(flags: readonly RunFlag[], name: string): string | undefined {
  for (let i = flags.length - 1; i >= 0; i--) if (flags[i]!.name === name) return flags[i]!.value;
  return undefined;
}

/** The args of a wrapped entry, flags in canonical order. */
export function wrappedArgs(launcher: Launcher, flags: readonly RunFlag[], inner: {command: string; args: readonly string[]}): string[] {
  return [...launcher.prefix, ...runPrefix(flags, inner.command), ...inner.args];
}

/** Everything thoth inserts before the original args: "run", the flags, "--" and the original command. */
export function runPrefix(flags: readonly RunFlag[], originalCommand: string): string[] {
  const tokens = ['run'];
  for (const flag of canonicalFlags(flags)) {
    if (flag.value === undefined) tokens.push(`--${flag.name}`);
    // A value that starts with "-" would read as a flag: join it with "=".
    else if (flag.value.startsWith('-')) tokens.push(`--${flag.name}=${flag.value}`);
    else tokens.push(`--${flag.name}`, flag.value);
  }
  tokens.push('--', originalCommand);
  return tokens;
}

/** Managed flags first in a fixed order, the others in their original order; one of each name. */
export function canonicalFlags(flags: readonly RunFlag[]): RunFlag[] {
  const latest = new Map<string, RunFlag>();
  for (const flag of flags) {
    latest.delete(flag.name);
    latest.set(flag.name, flag);
  }
  const managed = MANAGED_FLAGS.flatMap((name) => {
    const flag = latest.get(name);
    return flag && (flag.value === undefined || flag.value !== '') ? [flag] : [];
  });
  const others = [...latest.values()].filter((flag) => !(MANAGED_FLAGS as readonly string[]).includes(flag.name));
  return [...managed, ...others];
}

export function sameFlags(a: readonly RunFlag[], b: readonly RunFlag[]): boolean {
  const left = canonicalFlags(a);
  const right = canonicalFlags(b);
  return left.length === right.length && left.every((flag, i) => flag.name === right[i]!.name && flag.value === right[i]!.value);
}

export function sameLauncher(a: Launcher, b: Launcher): boolean {
  return a.command === b.command && a.prefix.length === b.prefix.length && a.prefix.every((item, i) => item === b.prefix[i]);
}
