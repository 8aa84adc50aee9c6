import {Flags} from '@oclif/core'
import {listRuns} from '../lib/state/history.js'
import type {RunStatus} from '../lib/state/runs.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderRunList} from '../lib/ui/runs-render.js'
import {terminalWidth} from '../lib/ui/text-width.js'

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
    const status = flags.status as RunStatus | undefined
    const result = listRuns({stateDb: stateDbPath(flags['state-db']), repo: flags.repo, status, limit: flags.limit})
    if (!this.jsonEnabled()) this.log(renderRunList(result, {width: terminalWidth()}))
    return result
  }
}
