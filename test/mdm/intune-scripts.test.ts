import {readFile, readdir} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * PowerShell cannot run here, so the .ps1 files stay a few lines that call thoth, and this test
 * checks what they rely on: every thoth command line they contain exists with those flags, the
 * detection command behaves as Intune needs, and the files are what Intune accepts (UTF-8 without
 * BOM, short).
 */
const INTUNE = join(REPO_ROOT, 'mdm', 'intune');

/** The config engine's commands (issue 5); checked against the manifest too once they are built in. */
const CONFIG_ENGINE_FLAGS: Record<string, string[]> = {
  'wrap-config': ['all', 'client', 'tenant-id', 'enforcement-mode', 'env', 'intent', 'output', 'dry-run', 'embed-api-key', 'thoth-bin'],
  'unwrap-config': ['all', 'client', 'output', 'dry-run'],
};

interface Manifest {
  commands: Record<string, {flags: Record<string, unknown>}>;
}

async function scripts(): Promise<Map<string, string>> {
  const files = (await readdir(INTUNE)).filter((name) => name.endsWith('.ps1')).sort();
  return new Map(await Promise.all(files.map(async (name) => [name, await readFile(join(INTUNE, name), 'utf8')] as const)));
}

/** `& $thoth <command> <--flags and values>` lines. */
function thothInvocations(text: string): {command: string; flags: string[]; line: string}[] {
  return text
    .split('\n')
    .filter((line) => /^\s*& \$thoth /.test(line))
    .map((line) => {
      const words = line.trim().split(/\s+/).slice(2);
      return {command: words[0]!, flags: words.filter((word) => word.startsWith('--')).map((word) => word.slice(2)), line: line.trim()};
    });
}

describe('mdm/intune/*.ps1', () => {
  it('are the six scripts the README documents, UTF-8 without BOM, and short', async () => {
    const all = await scripts();
    expect([...all.keys()]).toEqual(['detect.ps1', 'install.ps1', 'remediation-detect.ps1', 'remediation-remediate.ps1', 'set-policy.ps1', 'uninstall.ps1']);
    for (const [name, text] of all) {
      const bytes = await readFile(join(INTUNE, name));
      expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), `${name} starts with a BOM`).toBe(false);
      const code = text.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
      expect(code.length, `${name} has ${code.length} lines of code`).toBeLessThanOrEqual(15);
    }
  });

  it('call only thoth commands and flags that exist', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
    const seen: string[] = [];
    for (const [name, text] of await scripts()) {
      for (const call of thothInvocations(text)) {
        seen.push(`${name}: ${call.command} ${call.flags.join(' ')}`);
        const built = manifest.commands[call.command];
        const known = built ? Object.keys(built.flags) : CONFIG_ENGINE_FLAGS[call.command];
        expect(known, `${name} calls unknown command ${call.command}`).toBeDefined();
        for (const flag of call.flags) expect(known, `${name}: ${call.line}`).toContain(flag);
      }
    }
    expect(seen).toEqual([
      'detect.ps1: health intune-detect',
      'remediation-detect.ps1: health intune-detect',
      'remediation-remediate.ps1: wrap-config all',
      'uninstall.ps1: unwrap-config all',
    ]);
  });

  it('detection: `thoth health --intune-detect` prints nothing and exits 1 unless detected (Intune reads exit 0 + stdout as installed)', async () => {
    const run = await runThoth(['health', '--intune-detect'], {env: {THOTH_HOME: await tempDir(), THOTH_MIN_VERSION: '99.0.0'}});
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
  });

  it('write only thoth’s own policy key, with the THOTH_* names thoth reads', async () => {
    const text = (await scripts()).get('set-policy.ps1')!;
    const keys = [...text.matchAll(/'(HKLM:\\[^']+)'/g)].map((match) => match[1]);
    expect(keys).toEqual(['HKLM:\\SOFTWARE\\Microsoft\\Enrollments', 'HKLM:\\SOFTWARE\\Policies\\Thoth']);
    expect(text).toMatch(/New-Item -Path \$key/);
    const names = [...text.matchAll(/^\s+(THOTH_[A-Z_]+)\s+=/gm)].map((match) => match[1]);
    const config = await runThoth(['config', 'show', '--json'], {env: {THOTH_HOME: await tempDir()}});
    const known = (JSON.parse(config.stdout) as {result: {settings: {name: string}[]}}).result.settings.map((row) => row.name);
    for (const name of [...names, 'THOTH_INTUNE_DEVICE_ID']) expect(known).toContain(name);
  });
});
