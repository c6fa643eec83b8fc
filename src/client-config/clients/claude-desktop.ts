import {appData, classifyCommon, isObject, localAppData, xdgConfigHome} from './common.js';
import type {ClientAdapter, ClientLocation} from './types.js';

const FILE_NAME = 'claude_desktop_config.json';

/**
 * Claude Desktop: `mcpServers.<name>.{command,args,env}` in strict JSON (the app parses it with
 * JSON.parse). Windows has two builds: the classic installer reads %APPDATA%\Claude, the MSIX build
 * (default since early 2026) its own virtualised copy under %LOCALAPPDATA%\Packages\Claude_<suffix>.
 */
export const claudeDesktop: ClientAdapter = {
  id: 'claude-desktop',
  label: 'Claude Desktop',
  schema: 'clients/claude-desktop',
  jsonc: false,
  async locations(host) {
    const {path, env, home} = host;
    const join = path.join.bind(path);
    if (host.platform === 'darwin') return [{file: join(home, 'Library', 'Application Support', 'Claude', FILE_NAME), scope: 'user'}];
    if (host.platform === 'win32') {
      const packages = join(localAppData(env, home, join), 'Packages');
      const msix: ClientLocation[] = (await host.fs.readdir(packages))
        .filter((name) => name.startsWith('Claude_'))
        .sort()
        .map((name) => ({file: join(packages, name, 'LocalCache', 'Roaming', 'Claude', FILE_NAME), scope: 'msix'}));
      return [...msix, {file: join(appData(env, home, join), 'Claude', FILE_NAME), scope: 'user'}];
    }
    return [{file: join(xdgConfigHome(env, home, join), 'Claude', FILE_NAME), scope: 'user'}];
  },
  containers: (document) => (isObject(document) && isObject(document['mcpServers']) ? [{path: ['mcpServers']}] : []),
  classify(entry) {
    const kind = classifyCommon(entry);
    if (kind.kind === 'remote' && typeof entry['url'] === 'string') {
      return {
        kind: 'remote',
        reason:
          'remote server (url): Claude Desktop does not start url entries; bridge it with a stdio command such as `npx mcp-remote <url>` and wrap that',
      };
    }
    return kind;
  },
  score(fileName, _directory, document) {
    if (fileName === FILE_NAME) return 100;
    return isObject(document) && 'mcpServers' in document && !('projects' in document) ? 10 : 0;
  },
};
