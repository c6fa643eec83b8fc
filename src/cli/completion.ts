/**
 * Shell completion for bash and zsh, generated from the commands oclif knows (the same manifest
 * `--help` reads), as `gh completion` does: `eval "$(thoth autocomplete bash)"` in ~/.bashrc
 * completes command words, flags, and the values of flags that take one of a fixed set.
 *
 * Built here rather than with @oclif/plugin-autocomplete: oclif finds plugins in node_modules at
 * run time, and the self-contained installers have no node_modules by design (scripts/dist).
 */

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

export interface CompletableCommand {
  id: string;
  hidden?: boolean | undefined;
  aliases?: readonly string[] | undefined;
  flags: Record<string, {type: string; char?: string | undefined; hidden?: boolean | undefined; options?: readonly string[] | undefined}>;
}

/** Only words a shell reads as themselves go into the script (ids, flags and options are such words). */
const PLAIN_WORD = /^[A-Za-z0-9_.:@/+=-]+$/;

/**
 * One line per command and per topic: `path|flags|flag=option,option ...`, where path is the
 * command as typed (`audit show`). Topics have no flags: their line lets the next word complete.
 */
export function completionTable(commands: readonly CompletableCommand[]): string[] {
  const lines = new Map<string, string>();
  for (const command of commands) {
    if (command.hidden === true) continue;
    for (const id of [command.id, ...(command.aliases ?? [])]) {
      const words = id.split(':');
      if (!words.every((word) => PLAIN_WORD.test(word))) continue;
      for (let depth = 1; depth < words.length; depth++) {
        const topic = words.slice(0, depth).join(' ');
        if (!lines.has(topic)) lines.set(topic, `${topic}||`);
      }
      const flags: string[] = [];
      const options: string[] = [];
      for (const [name, flag] of Object.entries(command.flags)) {
        if (flag.hidden === true || !PLAIN_WORD.test(name)) continue;
        flags.push(`--${name}`);
        if (flag.char !== undefined && PLAIN_WORD.test(flag.char)) flags.push(`-${flag.char}`);
        const values = (flag.options ?? []).filter((value) => PLAIN_WORD.test(value));
        if (flag.type === 'option' && values.length > 0) options.push(`--${name}=${values.join(',')}`);
      }
      lines.set(words.join(' '), `${words.join(' ')}|${flags.sort().join(' ')}|${options.join(' ')}`);
    }
  }
  return [...lines.values()].sort();
}

export function completionScript(shell: CompletionShell, bin: string, commands: readonly CompletableCommand[]): string {
  if (!PLAIN_WORD.test(bin)) throw new Error(`cannot write a completion script for the command name ${JSON.stringify(bin)}`);
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  const table = completionTable(commands).join('\n');
  const body = `${fn}() {
  local table='${table}'
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" word line i
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The command typed so far: the words before the cursor that extend a known command or topic.
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == "--" ]] && return 0
    [[ "$word" == -* ]] && continue
    while IFS= read -r line; do
      if [[ "\${line%%|*}" == "\${path:+$path }$word" ]]; then path="\${path:+$path }$word"; break; fi
    done <<< "$table"
  done
  local own="" options="" candidates=""
  while IFS= read -r line; do
    local id="\${line%%|*}" rest="\${line#*|}"
    if [[ "$id" == "$path" ]]; then own="\${rest%%|*}"; options="\${rest#*|}"; fi
    # The next word: commands and topics one word below what was typed.
    if [[ -z "$path" && "$id" != *" "* ]] || [[ -n "$path" && "$id" == "$path "* && "\${id#"$path "}" != *" "* ]]; then
      candidates="$candidates \${id##* }"
    fi
  done <<< "$table"
  local option
  for option in $options; do
    if [[ "$prev" == "\${option%%=*}" ]]; then
      local values="\${option#*=}"
      COMPREPLY=( $(compgen -W "\${values//,/ }" -- "$cur") ); return 0
    fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$own" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$candidates" -- "$cur") )
  fi
}`;
  const header = `# ${bin} shell completion (${shell}). Load it from your shell's start-up file with:\n#   eval "$(${bin} autocomplete ${shell})"`;
  if (shell === 'zsh') {
    // zsh runs the same function through its bash completion emulation.
    // bashcompinit needs compinit's compdef; an interactive zsh with completion on has run it already.
    return `${header}\n(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\nautoload -U +X bashcompinit && bashcompinit\n${body}\ncomplete -o default -F ${fn} ${bin}\n`;
  }
  return `${header}\n${body}\ncomplete -o default -F ${fn} ${bin}\n`;
}
