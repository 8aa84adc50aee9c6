// oclif's flag and argument errors as modelcar's one line: what is missing or
// wrong, an example of the right form, and where the full help is.
import type {Command, Errors} from '@oclif/core'

type FlagDefs = Record<string, {helpValue?: string | string[]; options?: readonly string[]} | undefined>

/** What a missing required flag is for, shown with an example value: `missing --hf-repo: the Hugging Face repo to push, e.g. …`. */
export interface UsageHints {
  [flag: string]: string
}

type CommandInfo = Pick<Command.Class, 'id' | 'flags'> & {usageHints?: UsageHints}

export function usageLine(error: Errors.CLIError, cmd: CommandInfo, bin: string): string {
  const flags = (cmd.flags ?? {}) as FlagDefs
  const help = `see \`${bin} ${cmd.id} --help\``
  const lines = stripAnsi(error.message)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See more help/.test(l))
  const missing = lines.flatMap((l) => /^Missing required flag (\S+)$/.exec(l)?.[1] ?? [])
  if (missing.length > 0) {
    return missing
      .map((name) => {
        const example = [flags[name]?.helpValue].flat()[0]
        const what = cmd.usageHints?.[name]
        return `missing --${name}${what ? `: ${what}` : ''}${example ? `, e.g. --${name} ${example}` : ''}`
      })
      .join('; ')
  }
  if (/^Missing \d+ required args?/.test(lines[0] ?? '')) {
    const args = (error as {args?: Array<{name?: string; description?: string}>}).args ?? []
    const named = args.map((arg) => {
      const what = arg.description?.replace(/\.$/, '')
      return `missing ${arg.name?.toUpperCase() ?? 'argument'}${what ? `: ${what}` : ''}`
    })
    return `${named.join('; ') || lines[0]}: ${help}`
  }
  const unknown = /^Nonexistent flags?: (.+)$/.exec(lines[0] ?? '')
  if (unknown) {
    return (
      unknown[1]
        .split(', ')
        .map((given) => {
          const near = closest(given.replace(/^-+/, '').split('=')[0], Object.keys(flags))
          return `unknown flag ${given}${near ? ` (did you mean --${near}?)` : ''}`
        })
        .join('; ') + `: ${help}`
    )
  }
  const invalid = /^Expected --(\S+?)=(.*) to be one of: (.+)$/.exec(lines.join(' '))
  if (invalid) return `--${invalid[1]} must be one of ${invalid[3]} (got "${invalid[2]}")`
  const reasons = lines[0]?.startsWith('The following error') ? lines.slice(1) : lines.slice(0, 1)
  return `${reasons.join('; ')}: ${help}`
}

function stripAnsi(text: string): string {
  return text.replaceAll(/\u001B\[[0-9;]*m/g, '')
}

/** The flag name nearest a mistyped one (at most two edits away), for the hint. */
function closest(given: string, names: string[]): string | undefined {
  let best: {name: string; d: number} | undefined
  for (const name of names) {
    const d = distance(given, name)
    if (d <= 2 && (!best || d < best.d)) best = {name, d}
  }
  return best?.name
}

function distance(a: string, b: string): number {
  let row = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]
}
