// Flags shared by several commands, defined once.
import {Flags} from '@oclif/core'
import {defaultStatePath} from '../state/db.js'
import {LOG_STYLES, type LogStyle} from './log-style.js'

export const stateDbFlag = Flags.string({
  description: 'State database (resume state and history). Default: $XDG_STATE_HOME/modelcar/state.db.',
  env: 'MODELCAR_STATE_DB',
  helpGroup: 'state',
})

/** Resolved at run time, not at build time: the manifest must not bake in a home directory. */
export function stateDbPath(flag: string | undefined): string {
  return flag ?? defaultStatePath()
}

/** How hard to try over flaky networks; push, resume and verify share them. */
export const networkFlags = {
  'max-retries': Flags.integer({
    description: 'Retries per request for resets, timeouts, 408/429/5xx (exponential backoff with jitter, honouring Retry-After).',
    default: 5,
    min: 0,
    max: 100,
    helpGroup: 'network',
  }),
  'stall-timeout': Flags.integer({
    description: 'Seconds without a byte moving before a request is retried.',
    default: 60,
    min: 1,
    max: 3600,
    helpGroup: 'network',
  }),
  'tls-verify': Flags.string({
    description: "false: do not check the registry's TLS certificate (a self-signed test registry). Never applies to the Hub.",
    options: ['true', 'false'],
    default: 'true',
    helpGroup: 'network',
  }),
  verbose: Flags.boolean({
    description: 'Log retries, and how each host is reached (direct or through which proxy), on stderr (never secrets).',
    helpGroup: 'output',
  }),
}

/** How push and resume report progress on stderr (stdout carries only the result). */
export const progressFlags = {
  'log-style': Flags.string({
    description:
      'Progress on stderr: auto picks tty on a terminal, azure under Azure Pipelines (TF_BUILD), github under GitHub Actions,' +
      ' text otherwise. tty: a live view; text: timestamped lines; azure/github: groups, errors and step outputs.',
    options: [...LOG_STYLES],
    default: 'auto',
    env: 'MODELCAR_LOG_STYLE',
    helpGroup: 'output',
  }),
  quiet: Flags.boolean({char: 'q', description: 'No progress: only the result on stdout and errors on stderr.', helpGroup: 'output'}),
}

export function progressOptions(flags: {'log-style': string; quiet: boolean; verbose: boolean}) {
  return {logStyle: flags['log-style'] as LogStyle, quiet: flags.quiet, verbose: flags.verbose}
}

export interface NetworkParams {
  maxRetries: number
  stallTimeoutS: number
  tlsVerify: boolean
}

/** The network flags as service parameters; warns once on stderr when certificate checks are off. */
export function networkParams(flags: {'max-retries': number; 'stall-timeout': number; 'tls-verify': string}): NetworkParams {
  const tlsVerify = flags['tls-verify'] !== 'false'
  if (!tlsVerify) {
    process.stderr.write(
      "warning: --tls-verify=false: the registry's certificate is not checked, so anyone on the path can read and change what is sent.\n",
    )
  }
  return {maxRetries: flags['max-retries'], stallTimeoutS: flags['stall-timeout'], tlsVerify}
}
