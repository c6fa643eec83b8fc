import {readFile, readdir} from 'node:fs/promises';
import {join} from 'node:path';
import {DOMParser, type Document, type Element} from '@xmldom/xmldom';
import {describe, expect, it} from 'vitest';

import {SETTINGS} from '../../src/settings/definitions.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import type {RegistryKeyValues} from '../../src/settings/reg-query.js';
import {REPO_ROOT, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {powershellSyntaxProblems} from './powershell-syntax.js';

/**
 * PowerShell cannot run here. What the Intune scripts rely on is checked statically: they lex
 * (powershell-syntax.ts), each one starts by relaunching itself in 64-bit PowerShell and uses no
 * 32-bit location, every thoth command line exists with those flags, every exit path is one of the
 * documented codes and closes the transcript, the copies of shared blocks are the same, the files
 * are plain ASCII (Windows PowerShell 5.1 reads a BOM-less file as ANSI). The ADMX template writes
 * the values thoth reads. What only a Windows runner can prove is listed in mdm/README.md.
 */
const INTUNE = join(REPO_ROOT, 'mdm', 'intune');

const SCRIPTS = [
  'compliance.ps1',
  'install.ps1',
  'remediation-detect.ps1',
  'remediation-remediate.ps1',
  'set-policy.ps1',
  'system-remediation-detect.ps1',
  'system-remediation-remediate.ps1',
  'uninstall.ps1',
];

const PREAMBLE = `# Intune's agent is a 32-bit process: in it, Program Files and HKLM\\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\\sysnative\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}
`;

async function scripts(): Promise<Map<string, string>> {
  const files = (await readdir(INTUNE)).filter((name) => name.endsWith('.ps1')).sort();
  return new Map(await Promise.all(files.map(async (name) => [name, await readFile(join(INTUNE, name), 'utf8')] as const)));
}

/** The lines that are code: comments (whole-line) and blank lines removed. */
const codeLines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));

/** `& $node $entry <command> <args>`: the thoth command lines. */
function thothInvocations(text: string): {command: string; flags: string[]; line: string}[] {
  return text
    .split('\n')
    .filter((line) => /& \$node \$entry /.test(line))
    .map((line) => {
      const words = line.trim().replace(/^.*?& \$node \$entry /, '').split(/\s+/);
      return {command: words[0]!, flags: words.filter((word) => word.startsWith('--')).map((word) => word.slice(2)), line: line.trim()};
    });
}

describe('powershell-syntax (the lexer the Intune scripts are checked with)', () => {
  it('accepts what PowerShell accepts: quotes inside quotes, escapes, subexpressions with strings, here-strings, # inside strings', () => {
    const valid = [
      `Write-Output 'it''s # not a comment' "a ""quoted"" word" "back\`"tick"`,
      'Write-Output "$($settings.Count) values in $(Join-Path $env:ProgramData \'x\')"',
      `$x = @{a = @(1, 2); b = [int]'3'} # a comment with ) and }`,
      `$text = @'\nno $(expansion) here ' " ( {\n'@\nWrite-Output $text`,
      `<# block\n comment with { #>\nexit 0`,
      `Get-Item . |\n  Where-Object { $_ } \`\n  | Out-Null`,
    ];
    for (const text of valid) expect(powershellSyntaxProblems(text), text).toEqual([]);
  });

  it('reports an unterminated string, comment or here-string, and brackets that do not pair', () => {
    expect(powershellSyntaxProblems(`Write-Output 'open\nexit 0`)).toEqual([{line: 1, message: "string ' not closed"}]);
    expect(powershellSyntaxProblems('Write-Output "open $(1 + 2)\nexit 0')).toEqual([{line: 1, message: 'string " not closed'}]);
    expect(powershellSyntaxProblems('<# never closed\nexit 0')).toEqual([{line: 1, message: 'block comment <# not closed with #>'}]);
    expect(powershellSyntaxProblems("$a = @'\ntext\n '@\n")).toEqual([{line: 1, message: "here-string @' not closed with '@ at the start of a line"}]);
    expect(powershellSyntaxProblems('if ($a) {\n  exit 1\n')).toEqual([{line: 1, message: '{ never closed'}]);
    expect(powershellSyntaxProblems('if ($a) {\n  exit 1)\n}')).toEqual([{line: 2, message: '{ from line 1 closed by )'}, {line: 3, message: 'unexpected }'}]);
    expect(powershellSyntaxProblems('Write-Output "$(Get-Date"')).toEqual([
      {line: 1, message: 'string " not closed'},
      {line: 1, message: '$( not closed with )'},
      {line: 1, message: 'string " not closed'},
    ]);
  });
});

describe('mdm/intune/*.ps1', () => {
  it('are the scripts mdm/README.md documents, plain ASCII, and lex without a problem', async () => {
    const all = await scripts();
    expect([...all.keys()]).toEqual(SCRIPTS);
    for (const [name, text] of all) {
      const bytes = await readFile(join(INTUNE, name));
      expect(bytes.every((byte) => byte === 0x0a || byte === 0x09 || (byte >= 0x20 && byte < 0x7f)), `${name} is not plain ASCII`).toBe(true);
      expect(powershellSyntaxProblems(text), name).toEqual([]);
    }
  });

  it('each relaunches itself in 64-bit PowerShell (sysnative) before anything else, and names no 32-bit location', async () => {
    for (const [name, text] of await scripts()) {
      const at = text.indexOf(PREAMBLE);
      expect(at, `${name} lacks the 64-bit relaunch`).toBeGreaterThan(0);
      // Only comments come before it: it runs before any other statement.
      expect(codeLines(text.slice(0, at)), name).toEqual([]);
      const rest = text.slice(at + PREAMBLE.length);
      expect(rest, name).not.toMatch(/\$env:ProgramFiles(?!W6432)|Program Files \(x86\)|ProgramFiles\(x86\)|SysWOW64|WOW6432Node/i);
    }
  });

  it('share one copy of each common block: where thoth is, and when SYSTEM may write managed-mcp.json', async () => {
    const all = await scripts();
    const block = (text: string, first: string, last: string): string | undefined => {
      const start = text.indexOf(first);
      return start === -1 ? undefined : text.slice(start, text.indexOf(last, start) + last.length);
    };
    const locate = [...all.values()].map((text) => block(text, '# Where the MSI put thoth', "'lib\\bin\\run.js'")).filter((b) => b !== undefined);
    expect(locate.length).toBe(7);
    expect(new Set(locate).size).toBe(1);
    const adminOnly = [...all.values()].map((text) => block(text, '# Claude Code\'s managed-mcp.json (', '  return $true\n}')).filter((b) => b !== undefined);
    expect(adminOnly.length).toBe(4);
    expect(new Set(adminOnly).size).toBe(1);
    // Each SYSTEM script that writes a managed-mcp.json asks Test-AdminOnly first.
    for (const name of ['install.ps1', 'uninstall.ps1', 'system-remediation-remediate.ps1']) expect(all.get(name), name).toMatch(/Test-AdminOnly \$file/);
  });

  it('call only thoth commands and flags that exist (oclif manifest)', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>};
    const seen: string[] = [];
    for (const [name, text] of await scripts()) {
      for (const call of thothInvocations(text)) {
        seen.push(`${name}: ${call.command} ${call.flags.join(' ')}`.trim());
        const known = manifest.commands[call.command];
        expect(known, `${name} calls unknown command ${call.command}`).toBeDefined();
        for (const flag of call.flags) expect(Object.keys(known!.flags), `${name}: ${call.line}`).toContain(flag);
      }
    }
    expect(seen.sort()).toEqual(
      [
        'compliance.ps1: health format field',
        'install.ps1: wrap-config client',
        'remediation-detect.ps1: status',
        'remediation-remediate.ps1: wrap-config all',
        'system-remediation-detect.ps1: status client',
        'system-remediation-remediate.ps1: wrap-config client',
        'uninstall.ps1: unwrap-config client',
        'uninstall.ps1: unwrap-config all',
      ].sort(),
    );
  });

  it('every exit is a documented code, and every exit after Start-Transcript stops the transcript first', async () => {
    const expected: Record<string, string[]> = {
      'compliance.ps1': ['$LASTEXITCODE'],
      'install.ps1': ['$LASTEXITCODE', '1', '$code'],
      'remediation-detect.ps1': ['$LASTEXITCODE', '0', '0', '1'],
      'remediation-remediate.ps1': ['$LASTEXITCODE', '1', '$result'],
      'set-policy.ps1': ['$LASTEXITCODE', '1', '0'],
      'system-remediation-detect.ps1': ['$LASTEXITCODE', '0', '1'],
      'system-remediation-remediate.ps1': ['$LASTEXITCODE', '0', '1'],
      'uninstall.ps1': ['$LASTEXITCODE', '0', '1', '1', '$code'],
    };
    for (const [name, text] of await scripts()) {
      const lines = text.split('\n');
      const exits = lines.map((line, index) => ({index, match: /^\s*exit (.+)$/.exec(line)})).filter((item) => item.match);
      expect(exits.map((item) => item.match![1]), name).toEqual(expected[name]);
      const started = lines.findIndex((line) => line.includes('Start-Transcript'));
      expect(started, `${name} keeps no log`).toBeGreaterThan(0);
      // Walking back from each exit, only output and control flow may come after the transcript stopped.
      for (const exit of exits.filter((item) => item.index > started)) {
        let at = exit.index - 1;
        while (at > started && /^\s*(Write-Output .*|exit .*|\}|if \(.*\) \{|\} else \{)$/.test(lines[at]!)) at--;
        expect(lines[at], `${name} line ${exit.index + 1} exits with the transcript open`).toBe(lines[at]!.replace(/\S.*$/, '') + 'Stop-Transcript | Out-Null');
      }
      // compliance.ps1 ends by returning its JSON; the transcript must be stopped before.
      if (name === 'compliance.ps1') expect(text.trimEnd().endsWith('Stop-Transcript | Out-Null\nreturn $result | ConvertTo-Json -Compress')).toBe(true);
    }
  });

  it('log where admins look: %ProgramData%\\Microsoft\\IntuneManagementExtension\\Logs\\thoth-*.log, through Start-Transcript', async () => {
    for (const [name, text] of await scripts()) {
      expect(text, name).toMatch(/Start-Transcript -Path \(Join-Path (\$logs|\$env:ProgramData) /);
      expect(text, name).toContain('Microsoft\\IntuneManagementExtension\\Logs');
      expect(text, name).toMatch(/'thoth-[a-z-]+\.log'|"thoth-remediation-\$env:USERNAME\.log"/);
    }
  });

  it('install.ps1 runs msiexec /i on the package\'s MSI with a verbose log; uninstall.ps1 msiexec /x on the ProductCode the MSI recorded, after the unwrap rounds', async () => {
    const all = await scripts();
    const install = all.get('install.ps1')!;
    expect(install).toContain("Get-ChildItem -LiteralPath $PSScriptRoot -Filter 'thoth-*-win-x64.msi'");
    expect(install).toContain("@('/i', \"`\"$($msi.FullName)`\"\", '/qn', '/norestart', '/l*v',");
    const uninstall = all.get('uninstall.ps1')!;
    expect(uninstall).toContain("(Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Thoth' -ErrorAction SilentlyContinue).ProductCode");
    expect(uninstall.indexOf('foreach ($dryRun in @($true, $false))')).toBeLessThan(uninstall.indexOf("@('/x', $productCode"));
    expect(uninstall).toMatch(/unwrap-config failed for: .*thoth was NOT removed/);
  });

  it('set-policy.ps1 writes only thoth\'s policy key, names thoth reads, and refuses the placeholder tenant exactly as thoth would', async () => {
    const text = (await scripts()).get('set-policy.ps1')!;
    const keys = [...text.matchAll(/'(HKLM:\\[^']+)'/g)].map((match) => match[1]);
    expect(keys).toEqual(['HKLM:\\SOFTWARE\\Microsoft\\Enrollments', 'HKLM:\\SOFTWARE\\Policies\\Thoth']);
    const names = [...text.matchAll(/^\s+(THOTH_[A-Z_]+)\s+=/gm)].map((match) => match[1]!);
    const known = Object.values(SETTINGS).map((setting) => setting.name);
    for (const name of [...names, 'THOTH_INTUNE_DEVICE_ID']) expect(known).toContain(name);
    expect(text).toMatch(/THOTH_TENANT_ID\s+= '<your-tenant-id>'/);
    // The script's check (PowerShell -notmatch: case-insensitive) against thoth's own parser.
    const pattern = new RegExp(/-notmatch '([^']+)'/.exec(text.slice(text.indexOf('THOTH_TENANT_ID -notmatch')))![1]!, 'i');
    for (const candidate of ['<your-tenant-id>', 'acme', 'Acme-Corp', 'a', '-acme', 'acme-', 'a'.repeat(63), 'a'.repeat(64), 'acme corp', '']) {
      const home = await tempDir();
      const resolved = await resolveSettings({env: {THOTH_TENANT_ID: candidate}, home, cwd: home, platform: 'linux'});
      const thothAccepts = candidate !== '' && resolved.values.tenantId !== undefined;
      expect(pattern.test(candidate), JSON.stringify(candidate)).toBe(thothAccepts);
    }
  });

  it('compliance.ps1 emits exactly the settings compliance.json rules on, as Booleans', async () => {
    const text = (await scripts()).get('compliance.ps1')!;
    const emitted = /\[ordered\]@\{([^}]+)\}/.exec(text)![1]!.split(';').map((pair) => pair.split('=')[0]!.trim());
    expect(emitted).toEqual(['ThothInstalled', 'ThothVersion', 'ThothMeetsMinimumVersion']);
    const rules = JSON.parse(await readFile(join(INTUNE, 'compliance.json'), 'utf8')) as {Rules: Array<Record<string, unknown>>};
    expect(rules.Rules.map((rule) => [rule['SettingName'], rule['Operator'], rule['DataType'], rule['Operand']])).toEqual([
      ['ThothInstalled', 'IsEquals', 'Boolean', true],
      ['ThothMeetsMinimumVersion', 'IsEquals', 'Boolean', true],
    ]);
    for (const rule of rules.Rules) {
      expect(String(rule['MoreInfoUrl'])).toMatch(/^https:\/\//);
      expect(rule['RemediationStrings']).toEqual([expect.objectContaining({Language: 'en_US', Title: expect.any(String), Description: expect.any(String)})]);
    }
  });

  it('the remediation detection asks `thoth status`, whose exit code is what it decides on (0 governed, 11 not)', async () => {
    const home = await tempDir();
    const result = await runThoth(['status'], {env: {THOTH_HOME: join(home, '.thoth'), HOME: home}});
    // No config at all: nothing ungoverned, so no remediation.
    expect(result.code).toBe(0);
    const text = (await scripts()).get('remediation-detect.ps1')!;
    expect(text).toContain('& $node $entry status | Out-Host\n$result = $LASTEXITCODE');
    expect(text).toMatch(/if \(\$result -eq 0\) \{\n\s+Write-Output 'thoth: every MCP server is governed'\n\s+exit 0/);
  });
});

describe('mdm/intune/admx: thoth.admx and en-US/thoth.adml (Settings Catalog: Import ADMX)', () => {
  const parse = async (file: string): Promise<Document> => {
    const errors: string[] = [];
    const document = new DOMParser({onError: (level, message) => void (level !== 'warning' && errors.push(message))}).parseFromString(await readFile(join(INTUNE, 'admx', file), 'utf8'), 'text/xml');
    expect(errors, file).toEqual([]);
    return document;
  };
  const elements = (node: Document | Element, tag: string): Element[] => Array.from((node as Element).getElementsByTagName(tag)) as unknown as Element[];

  it('are well-formed, every string and presentation the ADMX names is in the ADML, and every policy is a machine policy in HKLM\\SOFTWARE\\Policies\\Thoth', async () => {
    const admx = await parse('thoth.admx');
    const adml = await parse('en-US/thoth.adml');
    expect(admx.documentElement!.getAttribute('xmlns')).toBe('http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions');
    const strings = new Set(elements(adml, 'string').map((node) => node.getAttribute('id')));
    const presentations = new Set(elements(adml, 'presentation').map((node) => node.getAttribute('id')));
    const text = await readFile(join(INTUNE, 'admx', 'thoth.admx'), 'utf8');
    for (const [, id] of text.matchAll(/\$\(string\.([A-Za-z0-9_]+)\)/g)) expect(strings, id).toContain(id);
    for (const [, id] of text.matchAll(/\$\(presentation\.([A-Za-z0-9_]+)\)/g)) expect(presentations, id).toContain(id);
    const policies = elements(admx, 'policy');
    expect(policies.length).toBeGreaterThanOrEqual(8);
    for (const policy of policies) {
      expect(policy.getAttribute('class'), policy.getAttribute('name')!).toBe('Machine');
      expect(policy.getAttribute('key'), policy.getAttribute('name')!).toBe('SOFTWARE\\Policies\\Thoth');
    }
  });

  it('write only settings thoth reads from its policy key, none of them secret, with values thoth accepts', async () => {
    const admx = await parse('thoth.admx');
    const byName = new Map(Object.values(SETTINGS).map((setting) => [setting.name, setting]));
    const values: Array<{name: string; data: string}> = [];
    for (const element of [...elements(admx, 'text'), ...elements(admx, 'enum')]) {
      const name = element.getAttribute('valueName')!;
      const setting = byName.get(name);
      expect(setting, name).toBeDefined();
      expect(setting!.secret ?? false, name).toBe(false);
      if (element.tagName === 'enum') for (const item of elements(element, 'string')) values.push({name, data: item.textContent!});
    }
    expect(values.map((v) => v.name)).toEqual(expect.arrayContaining(['THOTH_ENFORCEMENT_MODE', 'THOTH_ENV']));
    // Each enum choice, as the REG_SZ the policy writes, read back by thoth's registry layer: no problem.
    for (const value of values) {
      const registry = async (key: string): Promise<RegistryKeyValues | undefined> =>
        key === 'HKLM\\SOFTWARE\\Policies\\Thoth' ? {path: key, values: [{name: value.name, type: 'REG_SZ', data: value.data}]} : undefined;
      const home = await tempDir();
      const resolved = await resolveSettings({env: {}, home, cwd: home, platform: 'win32', readRegistry: registry});
      expect(resolved.problems, `${value.name}=${value.data}`).toEqual([]);
      const setting = Object.entries(SETTINGS).find(([, definition]) => definition.name === value.name)![0] as keyof typeof resolved.values;
      expect(String(resolved.values[setting]), `${value.name}=${value.data}`).toBe(value.data);
      expect(resolved.origins[setting].source).toBe('managed');
    }
  });
});
