import {appData, classifyCommon, isObject, xdgConfigHome} from './common.js';
import type {ClientAdapter} from './types.js';

/**
 * VS Code: `mcp.json` with top-level `servers` (and `inputs`), JSONC (comments and trailing
 * commas allowed), in the user profile and in `<workspace>/.vscode/`. Stable and Insiders builds.
 */
export const vscode: ClientAdapter = {
  id: 'vscode',
  label: 'VS Code',
  schema: 'clients/vscode',
  jsonc: true,
  async locations(host) {
    const {path, env, home, cwd} = host;
    const join = path.join.bind(path);
    const base =
      host.platform === 'darwin'
        ? join(home, 'Library', 'Application Support')
        : host.platform === 'win32'
          ? appData(env, home, join)
          : xdgConfigHome(env, home, join);
    return [
      {file: join(base, 'Code', 'User', 'mcp.json'), scope: 'user'},
      {file: join(base, 'Code - Insiders', 'User', 'mcp.json'), scope: 'user (insiders)'},
      {file: join(cwd, '.vscode', 'mcp.json'), scope: 'workspace'},
    ];
  },
  containers: (document) => (isObject(document) && isObject(document['servers']) ? [{path: ['servers']}] : []),
  classify: classifyCommon,
  score(fileName, directory, document) {
    if (fileName === 'mcp.json' && (directory === '.vscode' || directory === 'User')) return 100;
    return isObject(document) && isObject(document['servers']) && !('mcpServers' in document) ? 50 : 0;
  },
};
