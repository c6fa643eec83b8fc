import {spawn} from 'node:child_process';
import {rmSync} from 'node:fs';
import {chmod, copyFile, cp, mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {release, run} from '../installers/release-helper.js';

/**
 * A fake Mac for the Jamf scripts, under one directory that the scripts see as `/` through
 * THOTH_MDM_ROOT: `scutil` prints a captured console-user output, `launchctl asuser`, `sudo -u`,
 * `id`, `defaults` and `pkgutil` (on PATH, where macOS has them) log their arguments and run the
 * rest of the command line, and `jamf` sits at /usr/local/jamf/bin/jamf, off PATH as on a Mac. The
 * scripts run with a minimal PATH (these fakes, /usr/bin, /bin): no node, no /usr/local/bin.
 *
 * thoth is either a stub that logs who ran it, or the real one: the Linux release tarball laid
 * out as the .pkg installs it, /usr/local/thoth/{bin/thoth,bin/node,lib}.
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
[ "$1" = -u ] && [ -z "\${2:-}" ] && exec /usr/bin/id -u
printf 'id %s\\n' "$*" >> "$FAKE_LOG"
case "$2" in erikberglund) echo 501 ;; bob) echo 502 ;; *) echo "id: $2: no such user" >&2; exit 1 ;; esac
`,
  // \`defaults read <domain path> <key>\` answers from <domain path>.fake (KEY=value lines), as a
  // configuration profile would from /Library/Managed Preferences.
  defaults: `#!/bin/bash
printf 'defaults %s\\n' "$*" >> "$FAKE_LOG"
[ "$1" = read ] && [ -f "$2.fake" ] || exit 1
value="$(/usr/bin/awk -F= -v key="$3" '$1 == key { print substr($0, length(key) + 2); found = 1 } END { exit !found }' "$2.fake")" || exit 1
printf '%s\\n' "$value"
`,
  pkgutil: `#!/bin/bash
printf 'pkgutil %s\\n' "$*" >> "$FAKE_LOG"
`,
};

const JAMF = `#!/bin/bash
printf 'jamf %s\\n' "$*" >> "$FAKE_LOG"
if [ "$1" = policy ] && [ -n "\${FAKE_JAMF_INSTALLS:-}" ]; then mkdir -p "\${FAKE_JAMF_INSTALLS%/*}"; cp "$FAKE_STUB_THOTH" "$FAKE_JAMF_INSTALLS"; chmod +x "$FAKE_JAMF_INSTALLS"; fi
`;

const STUB_THOTH = `#!/bin/bash
printf 'thoth[%s %s] %s\\n' "\${USER:-root}" "$HOME" "$*" >> "$FAKE_LOG"
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
if [ "$1" = wrap-config ] || [ "$1" = unwrap-config ]; then
  client=""
  while [ $# -gt 0 ]; do [ "$1" = --client ] && client="$2"; shift; done
  case " \${STUB_WRAP_FAILS:-} " in *" $client "*) echo "thoth: error: $client: boom"; exit 3 ;; esac
  case " \${STUB_NO_CONFIG:-} " in *" $client "*) exit 4 ;; esac
  echo "wrapped $client"
  exit 0
fi
exit 99
`;

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  log: string[];
}

export interface FakeMac {
  /** What the scripts see as `/`. */
  root: string;
  bin: string;
  homes: string;
  /** /usr/local/thoth/bin/thoth under the fake root. */
  thothPath: string;
  stateFile: string;
  claudeManaged: string;
  installStub(): Promise<void>;
  /** The real thoth from the Linux release tarball, laid out as the macOS package installs it. */
  installRealThoth(): Promise<void>;
  /** Settings of the configuration profile (device level, or a user's). */
  setProfile(values: Record<string, string>, user?: string): Promise<void>;
  run(script: string, args?: string[], env?: Record<string, string>): Promise<ScriptRun>;
}

let unpacked: Promise<string> | undefined;

/** The release tarball unpacked once per test process (thoth/ inside the returned directory). */
function unpackedRelease(): Promise<string> {
  unpacked ??= (async () => {
    const built = await release();
    const dir = await mkdtemp(join(tmpdir(), 'thoth-mdm-release-'));
    process.once('exit', () => rmSync(dir, {recursive: true, force: true}));
    const result = await run('tar', ['-xzf', built.linux, '-C', dir]);
    if (result.code !== 0) throw new Error(result.stderr);
    return dir;
  })();
  return unpacked;
}

export async function fakeMac(scutilFixture = 'scutil-console-user.txt'): Promise<FakeMac> {
  const root = await tempDir('thoth-mdm-');
  const bin = join(root, 'fake-bin');
  const homes = join(root, 'Users');
  await mkdir(bin);
  await mkdir(join(homes, 'erikberglund'), {recursive: true});
  await mkdir(join(homes, 'bob'), {recursive: true});
  await mkdir(join(homes, 'Shared'), {recursive: true});
  for (const [name, text] of Object.entries(FAKES)) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
  const jamf = join(root, 'usr', 'local', 'jamf', 'bin', 'jamf');
  await mkdir(join(root, 'usr', 'local', 'jamf', 'bin'), {recursive: true});
  await writeFile(jamf, JAMF);
  await chmod(jamf, 0o755);
  const stubThoth = join(root, 'stub-thoth');
  await writeFile(stubThoth, STUB_THOTH);
  await chmod(stubThoth, 0o755);
  const thothPath = join(root, 'usr', 'local', 'thoth', 'bin', 'thoth');
  const log = join(root, 'calls.log');
  await writeFile(log, '');
  // Where root's own thoth profile goes (the privileged step): never the real ~/.thoth.
  await mkdir(join(root, 'var', 'root'), {recursive: true});
  return {
    root,
    bin,
    homes,
    thothPath,
    stateFile: join(root, 'Library', 'Application Support', 'thoth', 'jamf-state'),
    claudeManaged: join(root, 'Library', 'Application Support', 'ClaudeCode', 'managed-mcp.json'),
    installStub: async () => {
      await mkdir(join(root, 'usr', 'local', 'thoth', 'bin'), {recursive: true});
      await copyFile(stubThoth, thothPath);
      await chmod(thothPath, 0o755);
    },
    installRealThoth: async () => {
      await mkdir(join(root, 'usr', 'local'), {recursive: true});
      await cp(join(await unpackedRelease(), 'thoth'), join(root, 'usr', 'local', 'thoth'), {recursive: true, preserveTimestamps: true});
    },
    setProfile: async (values, user) => {
      const dir = join(root, 'Library', 'Managed Preferences', ...(user === undefined ? [] : [user]));
      await mkdir(dir, {recursive: true});
      await writeFile(join(dir, 'io.thoth.agent.fake'), Object.entries(values).map(([key, value]) => `${key}=${value}\n`).join(''));
    },
    run: (script, args = [], env = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn('/bin/bash', [join(REPO_ROOT, 'mdm', script), ...args], {
          env: {
            PATH: `${bin}:/usr/bin:/bin`,
            HOME: join(root, 'var', 'root'),
            THOTH_MDM_ROOT: root,
            FAKE_LOG: log,
            FAKE_SCUTIL: join(REPO_ROOT, 'test', 'mdm', 'fixtures', scutilFixture),
            FAKE_HOMES: homes,
            FAKE_STUB_THOTH: stubThoth,
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
