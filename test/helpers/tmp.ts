import {mkdtempSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach} from 'vitest';

const created: string[] = [];

/** A fresh directory removed after the current test. */
export async function tempDir(prefix = 'thoth-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** The same, for places that cannot await (constructors). */
export function tempDirSync(prefix = 'thoth-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

afterEach(async () => {
  while (created.length > 0) await rm(created.pop()!, {recursive: true, force: true});
});
