// Shell completion scripts (bash and zsh) built from the commands' own flags:
// command names, flag names, the values of flags that take a fixed set
// (--upload-mode, --log-style, list --status…) and, for the commands whose
// argument is a run id, the run ids recorded in the state database (asked at
// completion time through the hidden `run-ids` command). Both shells are
// generated from the same view of the commands (completionSpecs).

export const SHELLS = ['bash', 'zsh'] as const
export type Shell = (typeof SHELLS)[number]

export interface CompletionCommand {
  id: string
  summary?: string
  flags: Record<
    string,
    {
      char?: string
      options?: readonly string[]
      hidden?: boolean
      type?: string
      multiple?: boolean
      summary?: string
      description?: string
      exclusive?: readonly string[]
    }
  >
  /** Its positional arguments, in order (a run id is recognised by its name, runId). */
  args?: Record<string, {description?: string; options?: readonly string[]}>
  /** Takes any number of arguments (forget ID…). */
  variadic?: boolean
}

interface FlagSpec {
  name: string
  char?: string
  /** Takes a value (not a boolean switch). */
  value: boolean
  values?: readonly string[]
  multiple: boolean
  /** A path on disk (--state-db). */
  file: boolean
  summary: string
  exclusive: readonly string[]
}

interface ArgSpec {
  name: string
  summary: string
  runId: boolean
  values?: readonly string[]
}

interface CommandSpec {
  id: string
  summary: string
  flags: FlagSpec[]
  args: ArgSpec[]
  variadic: boolean
}

/** The one view of the commands both shells are generated from: visible flags with their values, arguments. */
export function completionSpecs(bin: string, commands: CompletionCommand[]): CommandSpec[] {
  return commands.map((c) => ({
    id: c.id,
    summary: firstSentence(c.summary).replaceAll('<%= config.bin %>', bin),
    flags: Object.entries(c.flags)
      .filter(([, f]) => !f.hidden)
      .map(([name, f]) => ({
        name,
        char: f.char,
        value: f.type !== 'boolean',
        values: f.options?.length ? f.options : undefined,
        multiple: Boolean(f.multiple),
        file: name === 'state-db',
        summary: firstSentence(f.summary ?? f.description),
        exclusive: f.exclusive ?? [],
      })),
    args: Object.entries(c.args ?? {}).map(([name, a]) => ({
      name,
      summary: firstSentence(a.description) || name,
      runId: name === 'runId',
      values: a.options?.length ? a.options : undefined,
    })),
    variadic: Boolean(c.variadic),
  }))
}

export function completionScript(shell: Shell, bin: string, commands: CompletionCommand[]): string {
  return shell === 'zsh' ? zshCompletion(bin, commands) : bashCompletion(bin, commands)
}

const functionName = (bin: string) => `_${bin.replaceAll(/[^A-Za-z0-9_]/g, '_')}`

function firstSentence(text: string | undefined): string {
  const line = (text ?? '').split('\n')[0]
  // The first full stop that ends a sentence (not the one in "e.g.").
  const end = line.search(/(?<!\b(?:e\.g|i\.e))\.(\s|$)/)
  return (end < 0 ? line : line.slice(0, end)).trim()
}

export function bashCompletion(bin: string, commands: CompletionCommand[]): string {
  const specs = completionSpecs(bin, commands)
  const fn = `${functionName(bin)}_complete`
  const flagWords = specs.map((c) => `    ${c.id}) words="${[...c.flags.map((f) => `--${f.name}`), '--help'].join(' ')}" ;;`)
  const values = specs.flatMap((c) =>
    c.flags
      .filter((f) => f.values)
      .map((f) => `    "${c.id} --${f.name}") COMPREPLY=($(compgen -W "${f.values!.join(' ')}" -- "$cur")); return ;;`),
  )
  const runIds = specs.filter((c) => c.args.some((a) => a.runId)).map((c) => c.id)
  return `# ${bin} completion for bash: source <(${bin} completion bash). zsh has its own: ${bin} completion zsh.
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}" words=""
  # bash splits --flag=value at the "=".
  if [[ "$cur" == "=" ]]; then cur=""; fi
  if [[ "$prev" == "=" ]]; then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${specs.map((c) => c.id).join(' ')}" -- "$cur")); return
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

/** Text inside a single-quoted zsh word. */
const sq = (s: string) => s.replaceAll("'", `'\\''`)
/** Text inside an _arguments [explanation] or a :message: field. */
const argText = (s: string) => s.replaceAll('\\', '\\\\').replaceAll('[', '(').replaceAll(']', ')').replaceAll(':', '\\:')

/** A native zsh completion function (#compdef, _arguments), usable from $fpath or with eval. */
export function zshCompletion(bin: string, commands: CompletionCommand[]): string {
  const specs = completionSpecs(bin, commands)
  const fn = functionName(bin)
  const runIdsFn = `${fn}_run_ids`
  const commandLines = specs.map((c) => `    '${sq(`${c.id.replaceAll(':', '\\:')}:${c.summary}`)}'`)
  const cases = specs.map((c) => {
    const lines = [
      ...c.flags.map((f) => flagSpec(f, c.flags)),
      `'(- *)--help[Show help]'`,
      ...c.args.map((a, i) => argSpec(a, i, c, runIdsFn)),
    ]
    return `    ${c.id})\n      _arguments -s -S \\\n        ${lines.join(' \\\n        ')}\n      ;;`
  })
  return `#compdef ${bin}
# ${bin} completion for zsh: commands, flags, flag values and run ids.
# eval "$(${bin} completion zsh)" in ~/.zshrc (after compinit), or save it as ${fn} in a folder on $fpath.

# Run ids recorded in the state database (--state-db on the line, else MODELCAR_STATE_DB or the default), newest first.
${runIdsFn}() {
  local db=\${opt_args[--state-db]}
  local -a ids typed
  ids=(\${(f)"$(${bin} run-ids \${db:+--state-db=$db} 2>/dev/null)"})
  # forget takes several ids: those already on the line are not offered again.
  typed=(\${words[2,CURRENT-1]})
  _wanted -V run-ids expl 'run id' compadd -F typed -a ids
}

${fn}() {
  local -a commands
  commands=(
${commandLines.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands '${sq(bin)} command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}

if [[ $funcstack[1] == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${bin}
fi
`
}

function flagSpec(f: FlagSpec, all: FlagSpec[]): string {
  const names = f.char ? [`-${f.char}`, `--${f.name}`] : [`--${f.name}`]
  // A flag given once is not offered again; exclusive flags hide each other.
  const excluded = f.multiple ? [] : [...names, ...f.exclusive.filter((e) => all.some((o) => o.name === e)).map((e) => `--${e}`)]
  const prefix = `${excluded.length ? `(${excluded.join(' ')})` : ''}${f.multiple ? '*' : ''}`
  const suffix = f.value ? '=' : ''
  const value = f.value ? `:${argText(f.name)}:${f.values ? `(${f.values.join(' ')})` : f.file ? '_files' : ' '}` : ''
  const explanation = `[${argText(f.summary)}]${value}`
  return names.length > 1
    ? `'${sq(prefix)}'{${names.map((n) => n + suffix).join(',')}}'${sq(explanation)}'`
    : `'${sq(`${prefix}${names[0]}${suffix}${explanation}`)}'`
}

function argSpec(a: ArgSpec, i: number, c: CommandSpec, runIdsFn: string): string {
  // Free text: a message only, guarded so that a lone `--fl` still completes to its flag.
  const action = a.runId ? runIdsFn : a.values ? `(${a.values.join(' ')})` : `_guard "^-*" ${a.name}`
  return `'${sq(`${c.variadic ? '*' : String(i + 1)}:${argText(a.summary)}:${action}`)}'`
}
