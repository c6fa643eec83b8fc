#!/usr/bin/env node
// The npm registry reachable from our build machines mirrors only the Linux builds of packages
// with per-platform optional dependencies (rollup's @rollup/rollup-<os>-<cpu>). `npm install`
// then leaves those optional packages out of package-lock.json, and `npm ci` refuses the lock as
// out of sync. This adds the missing entries with their os/cpu/libc fields, so npm ci accepts the
// lock and still skips them on platforms they are not for. Run it after every `npm install`.
import {readFileSync, writeFileSync} from 'node:fs';

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'sunos', 'aix', 'win32', 'netbsd'];
const CPU = {
  'arm-gnueabihf': 'arm',
  'arm-musleabihf': 'arm',
  'arm-eabi': 'arm',
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  loong64: 'loong64',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  s390x: 's390x',
};

function platformOf(name) {
  const tokens = name.split('/').pop().split('-');
  const os = tokens.find((t) => OS.includes(t));
  const rest = tokens.slice(tokens.indexOf(os) + 1).join('-');
  const cpuKey = Object.keys(CPU)
    .sort((a, b) => b.length - a.length)
    .find((key) => rest === key || rest.startsWith(`${key}-`) || rest.startsWith(key));
  const entry = {};
  if (os) entry.os = [os];
  if (cpuKey) entry.cpu = [CPU[cpuKey]];
  if (/musl/.test(rest)) entry.libc = ['musl'];
  else if (os === 'linux' && /gnu/.test(rest)) entry.libc = ['glibc'];
  return entry;
}

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
let added = 0;
for (const [location, pkg] of Object.entries(lock.packages)) {
  for (const [dependency, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${dependency}`;
    if (lock.packages[key] || lock.packages[`${location}/${key}`]) continue;
    const platform = platformOf(dependency);
    if (!platform.os && !platform.cpu) continue;
    lock.packages[key] = {version, ...platform, ...(pkg.dev ? {dev: true} : {}), optional: true};
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.error(`complete-lockfile: added ${added} platform-specific optional entries`);
