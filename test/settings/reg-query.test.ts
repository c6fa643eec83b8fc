import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {parseRegQuery, queryRegistry, registryValueText} from '../../src/settings/reg-query.js';
import {REPO_ROOT} from '../helpers/cli.js';

describe('reg query output', () => {
  it('parses the MachineGuid output', async () => {
    const text = await readFile(join(REPO_ROOT, 'fixtures', 'identity', 'reg-query-machineguid.txt'), 'utf8');
    expect(parseRegQuery(text)).toEqual([
      {
        path: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography',
        values: [{name: 'MachineGuid', type: 'REG_SZ', data: '9c1f5b7e-3a2d-4c8e-b1f0-6d2a4e8c0b57'}],
      },
    ]);
  });

  it('parses several values, subkeys, value names with spaces and empty data (the layouts of Wine’s reg.exe conformance tests)', () => {
    const text =
      '\r\nHKEY_CURRENT_USER\\Software\\Wine\\reg_test\r\n    Test1    REG_SZ    Hello, World\r\n    Test2    REG_DWORD    0x123\r\n    My Value    REG_SZ    \r\n\r\nHKEY_CURRENT_USER\\Software\\Wine\\reg_test\\subkey\r\n';
    expect(parseRegQuery(text)).toEqual([
      {
        path: 'HKEY_CURRENT_USER\\Software\\Wine\\reg_test',
        values: [
          {name: 'Test1', type: 'REG_SZ', data: 'Hello, World'},
          {name: 'Test2', type: 'REG_DWORD', data: '0x123'},
          {name: 'My Value', type: 'REG_SZ', data: ''},
        ],
      },
      {path: 'HKEY_CURRENT_USER\\Software\\Wine\\reg_test\\subkey', values: []},
    ]);
  });

  it('turns each value type into text a setting parser understands', () => {
    expect(registryValueText({name: 'a', type: 'REG_DWORD', data: '0x78'})).toBe('120');
    expect(registryValueText({name: 'a', type: 'REG_QWORD', data: '0x100000000'})).toBe('4294967296');
    expect(
      registryValueText({name: 'a', type: 'REG_EXPAND_SZ', data: '%ProgramData%\\Thoth\\%NOPE%'}, {ProgramData: 'C:\\ProgramData'}),
    ).toBe('C:\\ProgramData\\Thoth\\%NOPE%');
    expect(registryValueText({name: 'a', type: 'REG_MULTI_SZ', data: 'one\\0two\\0'})).toBe('one,two');
    expect(registryValueText({name: 'a', type: 'REG_BINARY', data: '00ff'})).toBeUndefined();
  });

  it('treats exit 1 as "not there" whatever the (localised) message, and other exits as errors', async () => {
    const german = async () => ({
      code: 1,
      stdout: '',
      stderr: 'FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden.\r\n',
    });
    expect(await queryRegistry('HKLM\\SOFTWARE\\Policies\\Thoth', {run: german, env: {}})).toBeUndefined();
    await expect(
      queryRegistry('HKLM\\SOFTWARE\\Policies\\Thoth', {
        run: async () => ({code: 5, stdout: '', stderr: 'ERROR: Access is denied.'}),
        env: {},
      }),
    ).rejects.toThrow(/exited 5: ERROR: Access is denied/);
  });
});
