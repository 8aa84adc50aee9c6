// Flags shared by several commands, defined once.
import {Flags} from '@oclif/core'
import {defaultStatePath} from '../state/db.js'

export const stateDbFlag = Flags.string({
  description: 'State database (resume state and history). Default: $XDG_STATE_HOME/modelcar/state.db.',
  env: 'MODELCAR_STATE_DB',
})

/** Resolved at run time, not at build time: the manifest must not bake in a home directory. */
export function stateDbPath(flag: string | undefined): string {
  return flag ?? defaultStatePath()
}


/** How hard to try over flaky networks; push and resume share them. */
export const networkFlags = {
  'max-retries': Flags.integer({description: 'Retries per request for resets, timeouts, 408/429/5xx (exponential backoff with jitter, honouring Retry-After).', default: 5, min: 0, max: 100}),
  'stall-timeout': Flags.integer({description: 'Seconds without a byte moving before a request is retried.', default: 60, min: 1, max: 3600}),
  verbose: Flags.boolean({description: 'Log retries and other details on stderr (never secrets).'}),
}
