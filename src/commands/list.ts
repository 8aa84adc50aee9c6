import {Flags} from '@oclif/core'
import {openStateDb} from '../lib/state/db.js'
import {summarize} from '../lib/state/report.js'
import {RunStore} from '../lib/state/runs.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/flags.js'
import {renderRunList} from '../lib/ui/output.js'

export default class List extends BaseCommand {
  static summary = 'Push history, newest first.'
  static examples = ['<%= config.bin %> list', '<%= config.bin %> list --repo Qwen/Qwen3-0.6B --status done --limit 5 --json']
  static flags = {
    repo: Flags.string({description: 'Only pushes of this Hugging Face repo or to this target repository.'}),
    status: Flags.string({description: 'Only runs with this status.', options: ['running', 'done', 'failed', 'interrupted']}),
    limit: Flags.integer({description: 'At most this many runs.', default: 20, min: 1, max: 10_000}),
    'state-db': stateDbFlag,
  }

  async run() {
    const {flags} = await this.parse(List)
    const db = openStateDb(stateDbPath(flags['state-db']))
    try {
      const runs = new RunStore(db)
      // 'interrupted' includes runs whose process died while 'running'.
      const rows = runs.list({repo: flags.repo, status: flags.status === 'interrupted' ? undefined : flags.status, limit: flags.status === 'interrupted' ? 10_000 : flags.limit})
      const summaries = rows.map(summarize).filter((r) => !flags.status || r.status === flags.status).slice(0, flags.limit)
      if (!this.jsonEnabled()) this.log(renderRunList(summaries))
      return {runs: summaries}
    } finally {
      db.close()
    }
  }
}
