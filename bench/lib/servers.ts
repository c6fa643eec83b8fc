import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const require = createRequire(import.meta.url);

export const THOTH_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
export const BYTE_PIPE = fileURLToPath(new URL('./byte-pipe.mjs', import.meta.url));
export const PARSE_FLOOR = fileURLToPath(new URL('./parse-floor.mjs', import.meta.url));
export const EVERYTHING = [process.execPath, require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];

/** The command line of `server` behind `thoth run` with `thothArgs` (`bin`: another build's bin/run.js). */
export function viaThoth(server: readonly string[], thothArgs: readonly string[] = ['--agent-id', 'bench'], bin = THOTH_BIN): string[] {
  return [process.execPath, bin, 'run', ...thothArgs, '--', ...server];
}
