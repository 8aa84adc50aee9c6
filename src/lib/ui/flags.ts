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

