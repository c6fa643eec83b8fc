import {cell, code, escapeMarkdown, generatedNotice, headingAnchor} from './markdown.js';

/** The parts of oclif.manifest.json the reference reads (oclif writes more). */
export interface ManifestFlag {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  description?: string;
  summary?: string;
  helpGroup?: string;
  hidden?: boolean;
  required?: boolean;
  multiple?: boolean;
  allowNo?: boolean;
  options?: readonly string[];
  default?: unknown;
  exclusive?: readonly string[];
  dependsOn?: readonly string[];
}

export interface ManifestArg {
  name: string;
  description?: string;
  required?: boolean;
  options?: readonly string[];
  default?: unknown;
}

export interface ManifestCommand {
  id: string;
  summary?: string;
  description?: string;
  hidden?: boolean;
  strict?: boolean;
  aliases?: readonly string[];
  examples?: ReadonlyArray<string | {command: string; description?: string}>;
  args: Record<string, ManifestArg>;
  flags: Record<string, ManifestFlag>;
}

export interface OclifManifest {
  version: string;
  commands: Record<string, ManifestCommand>;
}

/** Topic descriptions: oclif keeps them in package.json (`oclif.topics`), not in the manifest. */
export type Topics = Record<string, {description?: string}>;

const BIN = 'thoth';

/** `wrap-config`, `audit verify`: the id as it is typed (topicSeparator " "). */
function typed(id: string): string {
  return id.split(':').join(' ');
}

function commandHeading(command: ManifestCommand): string {
  return `${BIN} ${typed(command.id)}`;
}

function visibleCommands(manifest: OclifManifest): ManifestCommand[] {
  return Object.values(manifest.commands)
    .filter((command) => !command.hidden)
    .sort((a, b) => typed(a.id).localeCompare(typed(b.id), 'en'));
}

function visibleFlags(command: ManifestCommand): ManifestFlag[] {
  return Object.values(command.flags).filter((flag) => !flag.hidden);
}

/** Ungrouped flags first, then named groups alphabetically, GLOBAL last; by name within a group. */
function flagGroups(command: ManifestCommand): Array<{group: string | undefined; flags: ManifestFlag[]}> {
  const groups = new Map<string | undefined, ManifestFlag[]>();
  for (const flag of visibleFlags(command)) {
    const list = groups.get(flag.helpGroup) ?? [];
    list.push(flag);
    groups.set(flag.helpGroup, list);
  }
  const rank = (group: string | undefined): string => (group === undefined ? '0' : group === 'GLOBAL' ? '2' : `1${group}`);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a).localeCompare(rank(b), 'en'))
    .map(([group, flags]) => ({group, flags: flags.sort((a, b) => a.name.localeCompare(b.name, 'en'))}));
}

function argNames(command: ManifestCommand): string[] {
  const args = Object.values(command.args);
  return args.map((arg, index) => {
    const name = arg.name.toUpperCase();
    // A non-strict command takes any number of arguments after its last declared one.
    const rest = command.strict === false && index === args.length - 1 ? '...' : '';
    return arg.required ? `${name}${rest}` : `[${name}${rest}]`;
  });
}

function usage(command: ManifestCommand): string {
  const parts = [BIN, typed(command.id)];
  if (visibleFlags(command).length > 0) parts.push('[flags]');
  parts.push(...argNames(command));
  return parts.join(' ');
}

function flagSignature(flag: ManifestFlag): string {
  const long = flag.type === 'boolean' && flag.allowNo ? `--[no-]${flag.name}` : `--${flag.name}`;
  const value = flag.type === 'option' ? (flag.options ? ` <${flag.options.join('|')}>` : ' <value>') : '';
  return `${flag.char ? `-${flag.char}, ` : ''}${long}${value}`;
}

function formatDefault(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `- `--flag <value>` (required, default `x`): description`: attributes first, then the flag's own words. */
function item(signature: string, attributes: string[], description: string): string {
  const text = escapeMarkdown(description.replace(/\s*\n\s*/g, ' ').trim());
  return `- ${code(signature)}${attributes.length > 0 ? ` (${attributes.join(', ')})` : ''}${text === '' ? '' : `: ${text}`}`;
}

function flagLine(flag: ManifestFlag): string {
  const attributes: string[] = [];
  if (flag.required) attributes.push('required');
  if (flag.default !== undefined) attributes.push(`default ${code(formatDefault(flag.default))}`);
  if (flag.multiple) attributes.push('repeatable');
  if (flag.exclusive && flag.exclusive.length > 0)
    attributes.push(`not with ${flag.exclusive.map((name) => code(`--${name}`)).join(', ')}`);
  if (flag.dependsOn && flag.dependsOn.length > 0) attributes.push(`needs ${flag.dependsOn.map((name) => code(`--${name}`)).join(', ')}`);
  return item(flagSignature(flag), attributes, flag.description ?? flag.summary ?? '');
}

function argLine(arg: ManifestArg): string {
  const attributes: string[] = [arg.required ? 'required' : 'optional'];
  if (arg.options) attributes.push(`one of ${arg.options.map(code).join(', ')}`);
  if (arg.default !== undefined) attributes.push(`default ${code(formatDefault(arg.default))}`);
  return item(arg.name.toUpperCase(), attributes, arg.description ?? '');
}

function example(entry: string | {command: string; description?: string}): string {
  const text = typeof entry === 'string' ? entry : entry.command;
  return `$ ${text.replaceAll('<%= config.bin %>', BIN).replaceAll('<%= command.id %>', '')}`;
}

function paragraphs(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map(escapeMarkdown);
}

function renderCommand(command: ManifestCommand): string[] {
  const lines: string[] = [`## ${commandHeading(command)}`, ''];
  if (command.summary) lines.push(...paragraphs(command.summary).flatMap((paragraph) => [paragraph, '']));
  lines.push('```', usage(command), '```', '');
  // oclif shows the summary as the description when there is none: say it once.
  if (command.description && command.description !== command.summary) {
    lines.push(...paragraphs(command.description).flatMap((paragraph) => [paragraph, '']));
  }
  const args = Object.values(command.args);
  if (args.length > 0) lines.push('Arguments:', '', ...args.map(argLine), '');
  for (const {group, flags} of flagGroups(command)) {
    const title =
      group === undefined ? 'Flags' : group === 'GLOBAL' ? 'Global flags' : `${group.charAt(0)}${group.slice(1).toLowerCase()} flags`;
    lines.push(`${title}:`, '', ...flags.map(flagLine), '');
  }
  if (command.aliases && command.aliases.length > 0)
    lines.push(`Aliases: ${command.aliases.map((alias) => code(typed(alias))).join(', ')}.`, '');
  if (command.examples && command.examples.length > 0) lines.push('Examples:', '', '```sh', ...command.examples.map(example), '```', '');
  return lines;
}

/** docs/reference/commands.md: every visible command of the manifest, sorted, with its topics. */
export function renderCommandsReference(manifest: OclifManifest, topics: Topics): string {
  const commands = visibleCommands(manifest);
  const lines: string[] = [
    '# Command reference',
    '',
    generatedNotice('the oclif manifest (`oclif.manifest.json`) and the topics in package.json'),
    '',
    `Every command of thoth ${manifest.version}, with its usage, arguments, flags and examples. \`thoth <command> --help\` prints the`,
    'same. Exit codes and the `--json` envelope shared by every command are described in [exit codes](../exit-codes.md).',
    '',
    '## Topics',
    '',
    '| topic | commands | description |',
    '|---|---|---|',
  ];
  const topicNames = [
    ...new Set([
      ...Object.keys(topics),
      ...commands.filter((command) => command.id.includes(':')).map((command) => command.id.split(':')[0]!),
    ]),
  ].sort((a, b) => a.localeCompare(b, 'en'));
  for (const topic of topicNames) {
    const members = commands.filter((command) => command.id.split(':')[0] === topic && command.id.includes(':'));
    const links = members.map((command) => `[${typed(command.id)}](#${headingAnchor(commandHeading(command))})`).join(', ');
    lines.push(`| ${code(topic)} | ${links} | ${cell(topics[topic]?.description ?? '')} |`);
  }
  lines.push('', '## Commands', '', '| command | summary |', '|---|---|');
  for (const command of commands) {
    lines.push(
      `| [${typed(command.id)}](#${headingAnchor(commandHeading(command))}) | ${cell(command.summary ?? command.description?.split('\n')[0] ?? '')} |`,
    );
  }
  lines.push('');
  for (const command of commands) lines.push(...renderCommand(command));
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
