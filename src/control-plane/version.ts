import {readFileSync} from 'node:fs';

let cached: string | undefined;

/** thoth's own version (package.json), for the user agent and registrations; read once, without oclif. */
export function thothVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version?: string}).version ?? '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
