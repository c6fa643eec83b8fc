import {ExitCode} from '../core/exit-codes.js';
import type {DescribedError} from '../util/error-format.js';

/**
 * "Did you mean": the commands closest to what was typed. Pure, so that the not-found hook stays
 * wiring and this can be tested on its own.
 */

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: `shwo` → `show` is 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: cols}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates (space-separated, as typed: `audit show`) close enough to `typed` to be what the
 * user meant, best first, at most three. A far-off word suggests nothing rather than noise.
 */
export function closestCommands(typed: string, candidates: readonly string[]): string[] {
  const wanted = typed.toLowerCase();
  const scored = [...new Set(candidates)]
    .map((candidate) => ({candidate, distance: editDistance(wanted, candidate.toLowerCase())}))
    .filter(({candidate, distance}) => distance <= Math.max(2, Math.floor(Math.min(wanted.length, candidate.length) / 3)))
    .sort((x, y) => x.distance - y.distance || x.candidate.localeCompare(y.candidate));
  if (scored.length === 0) return [];
  const best = scored[0]!.distance;
  return scored
    .filter(({distance}) => distance === best)
    .slice(0, 3)
    .map(({candidate}) => candidate);
}

/** What to say about `words` given the command ids and topics (colon-separated, as oclif keeps them). */
export function describeNotFound(words: readonly string[], commandIds: readonly string[], topics: readonly string[]): DescribedError {
  const typed = words.join(' ');
  // `thoth identity extra`: oclif reads the extra word as part of the id of a command that takes no arguments.
  for (let length = words.length - 1; length > 0; length--) {
    const prefix = words.slice(0, length).join(':');
    if (!commandIds.includes(prefix)) continue;
    const command = prefix.replaceAll(':', ' ');
    const extra = words.slice(length);
    return {
      code: 'USAGE',
      message: `unexpected argument${extra.length === 1 ? '' : 's'} ${extra.map((word) => JSON.stringify(word)).join(' ')}: thoth ${command} takes no arguments`,
      suggestions: [`Run \`thoth ${command} --help\` to see its flags.`],
      exitCode: ExitCode.USAGE,
    };
  }
  const spaced = (id: string): string => id.replaceAll(':', ' ');
  const topic = words.length > 1 && topics.includes(words[0]!) ? words[0] : undefined;
  const candidates = [...commandIds, ...topics].map(spaced);
  const matches = closestCommands(typed, candidates);
  const list = topic === undefined ? '`thoth help` lists every command.' : `\`thoth help ${topic}\` lists the ${topic} commands.`;
  const suggestions = matches.length === 0 ? [list] : [`Did you mean ${matches.map((match) => `\`thoth ${match}\``).join(' or ')}?`, list];
  return {code: 'COMMAND_NOT_FOUND', message: `"${typed}" is not a thoth command`, suggestions, exitCode: ExitCode.USAGE};
}

/** The parts of oclif's Config that say which commands and topics exist. */
export interface CommandCatalogue {
  commands: ReadonlyArray<{id: string; aliases: readonly string[]; hidden?: boolean | undefined}>;
  topics: ReadonlyArray<{name: string; hidden?: boolean | undefined}>;
}

/** describeNotFound over the visible commands (with their aliases) and topics of a CLI. */
export function describeNotFoundIn(catalogue: CommandCatalogue, words: readonly string[]): DescribedError {
  const visible = catalogue.commands.filter((command) => command.hidden !== true);
  return describeNotFound(
    words,
    visible.flatMap((command) => [command.id, ...command.aliases]),
    catalogue.topics.filter((topic) => topic.hidden !== true).map((topic) => topic.name),
  );
}
