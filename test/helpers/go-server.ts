import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

export const GO_CASEFOLD_SOURCE = fileURLToPath(new URL('../../fixtures/servers/go-casefold/main.go', import.meta.url));
export const NODE_CASEFOLD_SERVER = fileURLToPath(new URL('../../fixtures/servers/casefold-server.mjs', import.meta.url));

/** CI installs golang-go and sets this: there, a missing Go toolchain fails instead of skipping. */
export const GO_REQUIRED = process.env['THOTH_REQUIRE_GO'] === '1';

export interface BuiltGoServer {
  binary: string;
  dispose(): void;
}

/**
 * Builds the Go case-insensitive server with the machine's `go` (standard library only, no
 * network); undefined when Go is not installed. The build cache lives in the temporary directory.
 */
export function buildGoCasefoldServer(): BuiltGoServer | undefined {
  const version = spawnSync('go', ['version'], {encoding: 'utf8'});
  if (version.error !== undefined || version.status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'thoth-go-'));
  const binary = join(dir, 'go-casefold');
  const built = spawnSync('go', ['build', '-o', binary, GO_CASEFOLD_SOURCE], {
    encoding: 'utf8',
    env: {...process.env, HOME: dir, GOCACHE: join(dir, 'cache'), GOPATH: join(dir, 'gopath'), GOFLAGS: '-mod=mod', GO111MODULE: 'off'},
  });
  if (built.status !== 0) throw new Error(`go build of ${GO_CASEFOLD_SOURCE} failed: ${built.stderr}`);
  return {binary, dispose: () => rmSync(dir, {recursive: true, force: true})};
}
