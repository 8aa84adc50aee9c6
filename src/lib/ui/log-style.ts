// The log styles of push and resume, and what `auto` picks.

export const LOG_STYLES = ['auto', 'tty', 'text', 'azure', 'github'] as const
export type LogStyle = (typeof LOG_STYLES)[number]

/** A terminal gets the live view, Azure Pipelines (TF_BUILD) and GitHub Actions their own, anything else text. */
export function resolveLogStyle(style: LogStyle, env: NodeJS.ProcessEnv, terminal: boolean): Exclude<LogStyle, 'auto'> {
  if (style !== 'auto') return style
  if (terminal) return 'tty'
  if (env.TF_BUILD) return 'azure'
  if (env.GITHUB_ACTIONS) return 'github'
  return 'text'
}
