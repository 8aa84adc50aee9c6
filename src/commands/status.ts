import {Args} from '@oclif/core'
import {runStatus} from '../lib/state/history.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderStatus} from '../lib/ui/runs-render.js'
import {terminalWidth} from '../lib/ui/text-width.js'

export default class Status extends BaseCommand {
  static summary = 'Show unfinished pushes (or one run) with per-file progress and how to resume.'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status 12 --json']
  static args = {runId: Args.integer({description: 'One run, finished or not.', required: false, min: 1})}
  static flags = {'state-db': stateDbFlag}

  async run() {
    const {args, flags} = await this.parse(Status)
    const result = runStatus({stateDb: stateDbPath(flags['state-db']), runId: args.runId})
    if (!this.jsonEnabled()) this.log(renderStatus(result, {width: terminalWidth(), full: args.runId !== undefined}))
    return result
  }
}
