import {Flags} from '@oclif/core'
import {parseAge, pruneRuns, type PruneStatus} from '../lib/state/forget.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderPrune} from '../lib/ui/forget-render.js'

export default class Prune extends BaseCommand {
  static summary = 'Remove old runs from the push history: by default, done or failed runs older than 30 days.'
  static description = [
    'A run a live process is pushing is never removed.',
    'The record of blobs pushed stays, so later pushes still skip what the registry has.',
  ].join(' ')

  static examples = ['<%= config.bin %> prune', '<%= config.bin %> prune --status interrupted --older-than 7d --json']
  static flags = {
    status: Flags.string({
      description: 'Only runs with this status (default: done and failed).',
      options: ['done', 'failed', 'interrupted'],
    }),
    'older-than': Flags.string({description: 'Only runs last active longer ago than this: a number and s, m, h, d or w.', default: '30d'}),
    'state-db': stateDbFlag,
  }

  async run() {
    const {flags} = await this.parse(Prune)
    const olderThanMs = parseAge(flags['older-than'])
    const result = pruneRuns({stateDb: stateDbPath(flags['state-db']), status: flags.status as PruneStatus | undefined, olderThanMs})
    if (!this.jsonEnabled()) this.log(renderPrune(result))
    return result
  }
}
