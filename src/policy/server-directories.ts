import {statSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export interface ServerDirectoriesIo {
  /** thoth's working directory, which the server inherits: relative arguments resolve against it. */
  cwd: string;
  /** Expands `~`. */
  home: string;
  /** Whether a directory exists at this absolute path (links followed). */
  isDirectory(path: string): boolean;
}

/**
 * The directories a server's command line names, which it may resolve relative paths against:
 * `server-filesystem /home/u/work` serves `/home/u/work` and reads `notes.md` there. Each
 * argument counts, and the value of a `--root=/x` or `ROOT=/x` argument; `~` is expanded and
 * relative arguments are taken from the working directory. Only those that name an existing
 * directory are kept, asked once when the session starts (never per call).
 */
export function serverDirectories(args: readonly string[], io: ServerDirectoriesIo): string[] {
  const directories: string[] = [];
  for (const arg of args) {
    const equals = arg.indexOf('=');
    for (const candidate of equals === -1 ? [arg] : [arg, arg.slice(equals + 1)]) {
      const absolute = absoluteCandidate(candidate, io);
      if (absolute === undefined || directories.includes(absolute)) continue;
      if (io.isDirectory(absolute)) directories.push(absolute);
    }
  }
  return directories;
}

function absoluteCandidate(candidate: string, io: ServerDirectoriesIo): string | undefined {
  if (candidate === '' || candidate.includes('\0') || candidate.startsWith('-')) return undefined;
  let value = candidate;
  if (/^file:/i.test(value)) {
    try {
      value = fileURLToPath(value);
    } catch {
      return undefined;
    }
  }
  if (value === '~' || value.startsWith('~/') || value.startsWith(`~${path.sep}`)) value = path.join(io.home, value.slice(1));
  return path.resolve(io.cwd, value);
}

/** The real file system's answer for `isDirectory`: anything unreadable is no base. */
export function isDirectory(candidate: string): boolean {
  try {
    return statSync(candidate, {throwIfNoEntry: false})?.isDirectory() === true;
  } catch {
    return false;
  }
}
