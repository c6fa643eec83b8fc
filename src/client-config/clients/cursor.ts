import {classifyCommon, isObject} from './common.js';
import type {ClientAdapter} from './types.js';

/** Cursor: `~/.cursor/mcp.json` (global) and `<project>/.cursor/mcp.json`, key `mcpServers`. */
export const cursor: ClientAdapter = {
  id: 'cursor',
  label: 'Cursor',
  schema: 'clients/cursor',
  jsonc: false,
  async locations(host) {
    const {path, home, cwd} = host;
    return [
      {file: path.join(home, '.cursor', 'mcp.json'), scope: 'user'},
      {file: path.join(cwd, '.cursor', 'mcp.json'), scope: 'project'},
    ];
  },
  containers: (document) => (isObject(document) && isObject(document['mcpServers']) ? [{path: ['mcpServers']}] : []),
  classify: classifyCommon,
  score: (fileName, directory) => (fileName === 'mcp.json' && directory === '.cursor' ? 100 : 0),
};
