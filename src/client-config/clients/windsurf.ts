import {classifyCommon, isObject} from './common.js';
import type {ClientAdapter} from './types.js';

/** Windsurf: `~/.codeium/windsurf/mcp_config.json`, key `mcpServers`; remote entries use `serverUrl`. */
export const windsurf: ClientAdapter = {
  id: 'windsurf',
  label: 'Windsurf',
  schema: 'clients/windsurf',
  jsonc: false,
  async locations(host) {
    return [{file: host.path.join(host.home, '.codeium', 'windsurf', 'mcp_config.json'), scope: 'user'}];
  },
  containers: (document) => (isObject(document) && isObject(document['mcpServers']) ? [{path: ['mcpServers']}] : []),
  classify: classifyCommon,
  score: (fileName) => (fileName === 'mcp_config.json' ? 100 : 0),
};
