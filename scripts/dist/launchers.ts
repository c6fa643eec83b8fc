/**
 * The small scripts an installed thoth starts through. Each calls the bundled node by absolute
 * path with the bundled entry: no PATH lookup anywhere, so they work in the minimal environment
 * MDM agents and MCP clients start programs with (`env -i PATH=/nonexistent thoth --version`).
 */

/** Linux tarball: relocatable, finds itself from $0 with shell built-ins only (no dirname/readlink). */
export function linuxLauncher(version: string): string {
  return `#!/bin/sh
# thoth ${version}: runs the Node.js bundled beside this script on thoth's bundled JavaScript.
# Relocatable: the directory is taken from $0 with shell built-ins (no PATH lookup). Put
# <dir>/thoth/bin on PATH, or call it by its full path; a symlink to it will not find node.
case "$0" in
  */*) here=\${0%/*} ;;
  *) here=. ;;
esac
here=$(cd -P -- "$here" && pwd -P) || exit 127
if [ ! -x "$here/node" ]; then
  echo "thoth: $here/node is missing: run this launcher where it was unpacked (through a symlink it cannot find node)" >&2
  exit 127
fi
exec "$here/node" "$here/../lib/bin/run.js" "$@"
`;
}

/** macOS: fixed location, so the paths are written in full. */
export function darwinLauncher(version: string, prefix: string): string {
  return `#!/bin/sh
# thoth ${version}: runs the Node.js bundled in ${prefix} on thoth's bundled JavaScript.
exec ${prefix}/bin/node ${prefix}/lib/bin/run.js "$@"
`;
}

/** Windows: beside node.exe; %~dp0 is this file's directory, with a trailing backslash. */
export function windowsLauncher(version: string): string {
  return `@rem thoth ${version}: runs the Node.js installed beside this file on thoth's bundled JavaScript.\r\n@"%~dp0node.exe" "%~dp0lib\\bin\\run.js" %*\r\n`;
}

/**
 * macOS postinstall (root, after the payload is in place): the launcher on PATH, the log
 * directory admins look in, and the removal of JavaScript an earlier version left behind (Installer
 * adds and replaces files but never deletes them; lib/FILES lists what this version ships).
 * `root` prefixes the system paths: always '' in the package, a directory in the tests.
 */
export function darwinPostinstall(version: string, prefix: string, root = ''): string {
  return `#!/bin/sh
# thoth ${version} postinstall (runs as root).
set -u
prefix=${prefix}
/bin/mkdir -p ${root}/usr/local/bin ${root}/Library/Logs/thoth || exit 1
/bin/ln -sfn "$prefix/bin/thoth" ${root}/usr/local/bin/thoth || exit 1
cd "$prefix/lib" || exit 1
/usr/bin/find . -type f ! -path ./FILES | while IFS= read -r file; do
  /usr/bin/grep -qxF -- "$file" FILES || /bin/rm -f -- "$file"
done
/usr/bin/find . -mindepth 1 -type d -empty -delete
exit 0
`;
}
