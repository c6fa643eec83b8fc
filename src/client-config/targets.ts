import {parse} from 'jsonc-parser';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {ADAPTERS, CLIENT_IDS, type ClientAdapter, type ClientId} from './clients/index.js';
import type {ConfigHost} from './host.js';
import {baseName} from './wrapped-command.js';

/** One config file to work on, with the client whose format it has. */
export interface ConfigTarget {
  client: ClientId;
  file: string;
  scope: string;
  /** Set when the client was inferred from the file (no --client): why. */
  inferred?: string;
}

/** The existing config files of `clients` on this host, in adapter order. */
export async function discoverTargets(
  host: ConfigHost,
  clients: readonly ClientId[] = CLIENT_IDS,
): Promise<{found: ConfigTarget[]; searched: string[]}> {
  const found: ConfigTarget[] = [];
  const searched: string[] = [];
  const seen = new Set<string>();
  for (const id of clients) {
    for (const location of await ADAPTERS[id].locations(host)) {
      searched.push(location.file);
      if (seen.has(location.file)) continue;
      seen.add(location.file);
      const info = await host.fs.stat(location.file);
      if (info?.isFile) found.push({client: id, file: location.file, scope: location.scope});
    }
  }
  return {found, searched};
}

/**
 * The client of a file given on the command line: `--client` when set, else the best match of
 * file name, directory and content (claude_desktop_config.json, .claude.json, .cursor/mcp.json,
 * .vscode/mcp.json, mcp_config.json, a top-level `servers` map...).
 */
export async function targetForFile(host: ConfigHost, file: string, client: ClientId | undefined): Promise<ConfigTarget> {
  const absolute = host.path.resolve(host.cwd, file);
  if (client) return {client, file: absolute, scope: 'file'};
  let content: unknown;
  try {
    const text = (await host.fs.readFile(absolute)).toString('utf8');
    content = lenientParse(text);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw notFound(absolute);
    throw error;
  }
  const name = baseName(absolute);
  const directory = baseName(host.path.dirname(absolute));
  let best: {adapter: ClientAdapter; score: number} | undefined;
  for (const id of CLIENT_IDS) {
    const score = ADAPTERS[id].score(name, directory, content);
    if (score > (best?.score ?? 0)) best = {adapter: ADAPTERS[id], score};
  }
  const adapter = best?.adapter ?? ADAPTERS['claude-desktop'];
  const why =
    best === undefined
      ? `neither its name nor its content names a client; the ${adapter.label} format is the default`
      : best.score >= 100
        ? `from its file name`
        : `from its content`;
  return {
    client: adapter.id,
    file: absolute,
    scope: 'file',
    inferred: `treating ${absolute} as a ${adapter.label} config (${why}); pass --client to choose`,
  };
}

/** Good enough to recognise a client: comments and trailing commas allowed, errors ignored. */
function lenientParse(text: string): unknown {
  return parse(text.replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as unknown;
}

export function notFound(file: string): ThothError {
  return new ThothError('CONFIG_NOT_FOUND', `${file}: no such file`, {
    exitCode: ExitCode.NOT_FOUND,
    suggestions: ["Check the path, or run without a file to use the installed clients' configs."],
  });
}
