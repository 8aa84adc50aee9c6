import {Args} from '@oclif/core'
import {UsageError} from '../lib/errors.js'
import {openStateDb} from '../lib/state/db.js'
import {detail, unfinished} from '../lib/state/report.js'
import {RunStore} from '../lib/state/runs.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/flags.js'
import {renderRunDetail} from '../lib/ui/output.js'

export default class Status extends BaseCommand {
  static summary = 'Show unfinished pushes (or one run) with per-file progress and how to resume.'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status 12 --json']
  static args = {runId: Args.integer({description: 'One run, finished or not.', required: false, min: 1})}
  static flags = {'state-db': stateDbFlag}

  async run() {
    const {args, flags} = await this.parse(Status)
    const db = openStateDb(stateDbPath(flags['state-db']))
    try {
      const runs = new RunStore(db)
      let details
      if (args.runId === undefined) {
        details = unfinished(runs)
      } else {
        const run = runs.get(args.runId)
        if (!run) throw new UsageError(`Run ${args.runId} does not exist: see \`modelcar list\`.`, 'E_NO_RUN')
        details = [detail(runs, run)]
      }
      if (!this.jsonEnabled()) this.log(details.length === 0 ? 'No unfinished pushes.' : details.map(renderRunDetail).join('\n\n'))
      return {runs: details}
    } finally {
      db.close()
    }
  }
}
