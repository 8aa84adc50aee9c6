// A bash completion script built from the commands' own flags: command names,
// flag names, the values of flags that take a fixed set (--upload-mode,
// --log-style, list --status…) and, for resume and status, the run ids
// recorded in the state database (asked at completion time).

export interface CompletionCommand {
  id: string
  flags: Record<string, {char?: string; options?: readonly string[]; hidden?: boolean; type?: string}>
  /** Its argument is a run id. */
  runIdArg?: boolean
}

export function bashCompletion(bin: string, commands: CompletionCommand[]): string {
  const fn = `_${bin.replaceAll(/[^A-Za-z0-9_]/g, '_')}_complete`
  const visible = (c: CompletionCommand) => Object.entries(c.flags).filter(([, f]) => !f.hidden)
  const flagWords = commands.map((c) => `    ${c.id}) words="${[...visible(c).map(([name]) => `--${name}`), '--help'].join(' ')}" ;;`)
  const values = commands.flatMap((c) =>
    visible(c)
      .filter(([, f]) => f.options?.length)
      .map(([name, f]) => `    "${c.id} --${name}") COMPREPLY=($(compgen -W "${f.options!.join(' ')}" -- "$cur")); return ;;`),
  )
  const runIds = commands.filter((c) => c.runIdArg).map((c) => c.id)
  return `# ${bin} completion for bash. zsh: autoload -U +X bashcompinit && bashcompinit, then source this too.
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}" words=""
  # bash splits --flag=value at the "=".
  if [[ "$cur" == "=" ]]; then cur=""; fi
  if [[ "$prev" == "=" ]]; then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.id).join(' ')}" -- "$cur")); return
  fi
  case "$cmd $prev" in
${values.join('\n')}
  esac
  case "$cmd" in
${flagWords.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur")); return
  fi
  case "$cmd" in
    ${runIds.join('|') || '_none_'}) COMPREPLY=($(compgen -W "$(${bin} run-ids 2>/dev/null)" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o default -F ${fn} ${bin}
`
}
