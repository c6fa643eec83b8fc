import {homedir} from 'node:os';
import {basename, isAbsolute, relative} from 'node:path';

import type {ProtectedPaths} from './engine.js';
import type {CompiledPolicy} from './model.js';
import {PathReader} from './path-reader.js';

/** What the session's settings put outside the profile that is thoth's all the same. */
export interface OwnLocations {
  /** The audit directory (THOTH_AUDIT_DIR), which holds the grants `thoth approve` seals. */
  directories?: readonly string[];
  /** The audit key (THOTH_AUDIT_KEY_FILE): whoever reads it can seal a forged grant. */
  files?: readonly string[];
}

/**
 * thoth's profile directory, the policy file itself, and the audit directory and key wherever
 * the settings put them: no tool argument may point into them. Each is kept as written and where
 * its links lead (a profile on another volume, macOS `/var` → `/private/var`), resolved once for
 * the session.
 */
export function protectedPaths(policy: CompiledPolicy, home: string, userHome: string = homedir(), own: OwnLocations = {}): ProtectedPaths {
  const directories: string[] = [];
  const files: string[] = [];
  const tokens = new Set<string>();
  const reader = new PathReader(policy.paths);
  const homePath = reader.read(home);
  if (homePath !== undefined) {
    directories.push(homePath.lexical, ...homePath.resolved);
    tokens.add(basename(homePath.lexical).toLowerCase());
  }
  if (policy.source.kind !== 'builtin') {
    const file = reader.read(policy.source.path);
    if (file !== undefined) {
      files.push(file.lexical, ...file.resolved);
      tokens.add(basename(file.lexical).toLowerCase());
    }
  }
  for (const [list, kind] of [
    [own.directories ?? [], directories],
    [own.files ?? [], files],
  ] as const) {
    for (const path of list) {
      const reading = reader.read(path);
      if (reading === undefined) continue;
      kind.push(reading.lexical, ...reading.resolved);
      tokens.add(basename(reading.lexical).toLowerCase());
    }
  }
  const mentioned = [home, ...(own.directories ?? []), ...(own.files ?? [])];
  if (policy.source.kind !== 'builtin') mentioned.push(policy.source.path);
  const underUserHome = relative(userHome, home);
  if (underUserHome !== '' && !underUserHome.startsWith('..') && !isAbsolute(underUserHome)) mentioned.push(`~/${underUserHome}`);
  // A whole path component: `~/.thoth` but not `~/.thothful`.
  const alternatives = mentioned.map(
    (text) =>
      `${text
        .replace(/[\\/]+$/, '')
        .split(/[\\/]+/)
        .map(escapeRegExp)
        .join('[\\\\/]+')}(?=$|[\\\\/\\s"'\`;|&)])`,
  );
  // Also the commands that decide approvals and pins, as a shell tool would run them.
  // `node …/bin/run.js approve` is the form wrap-config writes; a shell tool would copy it.
  alternatives.push('(?:\\bthoth(?:\\.cmd|\\.exe)?|\\brun\\.js)["\']?\\s+(?:approve|deny|pins\\s+accept)\\b');
  return {directories, files, tokens: [...tokens].filter((token) => token !== ''), mentions: new RegExp(alternatives.join('|'), 'i')};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
