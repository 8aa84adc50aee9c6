import {Args} from '@oclif/core'
import {UsageError} from '../lib/errors.js'
import {forgetRuns} from '../lib/state/forget.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderForget} from '../lib/ui/forget-render.js'

export default class Forget extends BaseCommand {
  static summary = 'Remove runs from the push history (their files and resume state go with them).'
  static description = [
    'All or none: an unknown id changes nothing (exit 2), and a run another live process is pushing is refused (exit 3).',
    'The record of blobs pushed stays, so later pushes still skip what the registry has.',
  ].join(' ')
  static examples = ['<%= config.bin %> forget 12', '<%= config.bin %> forget 3 4 5 --json']
  static strict = false
  static args = {runId: Args.integer({description: 'Run ids (see `modelcar list`).', required: true, min: 1})}
  static flags = {'state-db': stateDbFlag}

  async run() {
    const {argv, flags} = await this.parse(Forget)
    const ids = argv.map((a) => {
      const s = String(a)
      if (!/^[1-9]\d{0,15}$/.test(s)) {
        throw new UsageError(`Invalid run id ${JSON.stringify(s)}: give run ids as shown by \`modelcar list\`.`)
      }
      return Number(s)
    })
    const result = forgetRuns({stateDb: stateDbPath(flags['state-db']), runIds: ids})
    if (!this.jsonEnabled()) this.log(renderForget(result))
    return result
  }
}
