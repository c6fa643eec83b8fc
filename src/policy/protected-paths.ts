import {homedir} from 'node:os';
import {basename, isAbsolute, relative} from 'node:path';

import type {ProtectedPaths} from './engine.js';
import type {CompiledPolicy} from './model.js';
import {PathReader} from './path-reader.js';

/**
 * thoth's profile directory and the policy file itself: no tool argument may point into them.
 * Each is kept as written and where its links lead (a profile on another volume, macOS
 * `/var` → `/private/var`), resolved once for the session.
 */
export function protectedPaths(policy: CompiledPolicy, home: string, userHome: string = homedir()): ProtectedPaths {
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
  const mentioned = [home];
  if (policy.source.kind !== 'builtin') mentioned.push(policy.source.path);
  const underUserHome = relative(userHome, home);
  if (underUserHome !== '' && !underUserHome.startsWith('..') && !isAbsolute(underUserHome)) mentioned.push(`~/${underUserHome}`);
  // A whole path component: `~/.thoth` but not `~/.thothful`.
  const alternatives = mentioned.map((text) => `${text.replace(/[\\/]+$/, '').split(/[\\/]+/).map(escapeRegExp).join('[\\\\/]+')}(?=$|[\\\\/\\s"'\`;|&)])`);
  // Also the commands that decide approvals and pins, as a shell tool would run them.
  alternatives.push('\\bthoth(?:\\.cmd|\\.exe)?["\']?\\s+(?:approve|deny|pins\\s+accept)\\b');
  return {directories, files, tokens: [...tokens].filter((token) => token !== ''), mentions: new RegExp(alternatives.join('|'), 'i')};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
