import {spawn} from 'node:child_process';
import {chmod, copyFile, mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * A fake macOS for the Jamf scripts: `scutil` prints a captured console-user output, and
 * `launchctl asuser`, `sudo -u`, `id`, `defaults` and `jamf` log their arguments and run the rest
 * of the command line, so the scripts really execute, against a stub `thoth` that logs who ran it.
 */
const FAKES: Record<string, string> = {
  scutil: `#!/bin/bash
printf 'scutil %s\\n' "$(cat)" >> "$FAKE_LOG"
cat "$FAKE_SCUTIL"
`,
  launchctl: `#!/bin/bash
printf 'launchctl %s\\n' "$*" >> "$FAKE_LOG"
[ "$1" = asuser ] || exit 64
shift 2
exec "$@"
`,
  sudo: `#!/bin/bash
printf 'sudo %s\\n' "$*" >> "$FAKE_LOG"
user=""
while [ $# -gt 0 ]; do case "$1" in -u) user="$2"; shift 2 ;; -H) shift ;; *) break ;; esac; done
export USER="$user" HOME="$FAKE_HOMES/$user"
exec "$@"
`,
  id: `#!/bin/bash
printf 'id %s\\n' "$*" >> "$FAKE_LOG"
case "$2" in erikberglund) echo 501 ;; bob) echo 502 ;; *) echo "id: $2: no such user" >&2; exit 1 ;; esac
`,
  defaults: `#!/bin/bash
printf 'defaults %s\\n' "$*" >> "$FAKE_LOG"
[ -n "\${FAKE_LAST_USER:-}" ] || exit 1
echo "$FAKE_LAST_USER"
`,
  jamf: `#!/bin/bash
printf 'jamf %s\\n' "$*" >> "$FAKE_LOG"
if [ -n "\${FAKE_JAMF_INSTALLS:-}" ]; then cp "$FAKE_STUB_THOTH" "$FAKE_JAMF_INSTALLS"; chmod +x "$FAKE_JAMF_INSTALLS"; fi
`,
};

const STUB_THOTH = `#!/bin/bash
printf 'thoth[%s %s] %s\\n' "$USER" "$HOME" "$*" >> "$FAKE_LOG"
if [ "$1" = health ]; then
  [ -z "\${STUB_HEALTH_GARBAGE:-}" ] || { echo 'TypeError: boom'; exit 1; }
  field=status
  while [ $# -gt 0 ]; do [ "$1" = --field ] && field="$2"; shift; done
  case "$field" in
    meets-min-version) value="\${STUB_MEETS_MIN:-true}" ;;
    governed) value="\${STUB_GOVERNED:-true}" ;;
    version) value="\${STUB_VERSION:-0.2.0}" ;;
    *) value="\${STUB_STATUS:-healthy}" ;;
  esac
  printf '<result>%s</result>\\n' "$value"
  exit 0
fi
if [ "$1" = wrap-config ]; then echo 'wrapped 3 servers'; exit "\${STUB_WRAP_EXIT:-0}"; fi
exit 99
`;

export interface FakeMac {
  dir: string;
  bin: string;
  homes: string;
  log: string;
  stubThoth: string;
  /** Where scripts find thoth unless told otherwise (not installed until `install()`). */
  thothPath: string;
  install(): Promise<void>;
  /** Installs a wrapper that runs the real, built thoth instead of the stub. */
  installRealThoth(): Promise<void>;
  run(script: string, args?: string[], env?: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string; log: string[]}>;
}

export async function fakeMac(scutilFixture = 'scutil-console-user.txt'): Promise<FakeMac> {
  const dir = await tempDir('thoth-mdm-');
  const bin = join(dir, 'bin');
  const homes = join(dir, 'Users');
  await mkdir(bin);
  await mkdir(join(homes, 'erikberglund'), {recursive: true});
  await mkdir(join(homes, 'bob'), {recursive: true});
  for (const [name, text] of Object.entries(FAKES)) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
  const stubThoth = join(dir, 'stub-thoth');
  await writeFile(stubThoth, STUB_THOTH);
  await chmod(stubThoth, 0o755);
  const thothPath = join(dir, 'usr-local-bin', 'thoth');
  await mkdir(join(dir, 'usr-local-bin'));
  const log = join(dir, 'calls.log');
  await writeFile(log, '');
  return {
    dir,
    bin,
    homes,
    log,
    stubThoth,
    thothPath,
    install: () => copyFile(stubThoth, thothPath).then(() => chmod(thothPath, 0o755)),
    installRealThoth: async () => {
      await writeFile(thothPath, `#!/bin/bash\nprintf 'thoth[%s %s] %s\\n' "$USER" "$HOME" "$*" >> "$FAKE_LOG"\nexec "${process.execPath}" "${join(REPO_ROOT, 'bin', 'run.js')}" "$@"\n`);
      await chmod(thothPath, 0o755);
    },
    run: (script, args = [], env = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn('bash', [join(REPO_ROOT, 'mdm', script), ...args], {
          env: {
            PATH: `${bin}:/usr/bin:/bin`,
            FAKE_LOG: log,
            FAKE_SCUTIL: join(REPO_ROOT, 'test', 'mdm', 'fixtures', scutilFixture),
            FAKE_HOMES: homes,
            FAKE_STUB_THOTH: stubThoth,
            THOTH_BIN: thothPath,
            ...env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', async (code) => {
          const calls = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
          await writeFile(log, '');
          resolve({code, stdout, stderr, log: calls});
        });
      }),
  };
}
