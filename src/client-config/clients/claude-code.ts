import {classifyCommon, isObject} from './common.js';
import type {ConfigHost} from '../host.js';
import type {ClientAdapter, ClientLocation, ServerContainer} from './types.js';

/**
 * Claude Code keeps user-scope servers in `~/.claude.json` (top-level `mcpServers`), local-scope
 * servers in the same file under `projects["<abs path>"].mcpServers`, project servers in
 * `<project>/.mcp.json`, and IT-managed servers in `managed-mcp.json`. Entries carry `type`
 * (stdio | http | sse). Note: a managed `allowedMcpServers` rule that matches on `serverCommand`
 * will not match a wrapped command (it now starts with thoth).
 */
/**
 * Windows: current Claude Code releases read `%ProgramFiles%\ClaudeCode\managed-mcp.json`; older
 * ones read `%ProgramData%\ClaudeCode\`. Both are listed, so that a machine that moved between
 * them is still seen whole. `ProgramW6432` first: a 32-bit process sees the x86 folder as
 * ProgramFiles.
 */
function windowsManaged(env: NodeJS.ProcessEnv, path: ConfigHost['path']): ClientLocation[] {
  const programFiles = env['ProgramW6432'] ?? env['ProgramFiles'] ?? env['PROGRAMFILES'] ?? 'C:\\Program Files';
  const programData = env['ProgramData'] ?? env['PROGRAMDATA'] ?? 'C:\\ProgramData';
  return [
    {file: path.join(programFiles, 'ClaudeCode', 'managed-mcp.json'), scope: 'managed'},
    {file: path.join(programData, 'ClaudeCode', 'managed-mcp.json'), scope: 'managed (older releases)'},
  ];
}

export const claudeCode: ClientAdapter = {
  id: 'claude-code',
  label: 'Claude Code',
  schema: 'clients/claude-code',
  jsonc: false,
  async locations(host) {
    const {path, home, cwd} = host;
    const managed =
      host.platform === 'darwin'
        ? [{file: '/Library/Application Support/ClaudeCode/managed-mcp.json', scope: 'managed'}]
        : host.platform === 'win32'
          ? windowsManaged(host.env, path)
          : [{file: '/etc/claude-code/managed-mcp.json', scope: 'managed'}];
    return [{file: path.join(home, '.claude.json'), scope: 'user'}, {file: path.join(cwd, '.mcp.json'), scope: 'project'}, ...managed];
  },
  containers(document) {
    if (!isObject(document)) return [];
    const containers: ServerContainer[] = [];
    if (isObject(document['mcpServers'])) containers.push({path: ['mcpServers']});
    const projects = document['projects'];
    if (isObject(projects)) {
      for (const [project, settings] of Object.entries(projects)) {
        if (isObject(settings) && isObject(settings['mcpServers']))
          containers.push({path: ['projects', project, 'mcpServers'], scope: `local:${project}`});
      }
    }
    return containers;
  },
  classify: classifyCommon,
  score(fileName, _directory, document) {
    if (fileName === '.claude.json' || fileName === '.mcp.json' || fileName === 'managed-mcp.json') return 100;
    return isObject(document) && isObject(document['projects']) ? 20 : 0;
  },
};
