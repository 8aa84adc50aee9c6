import {existsSync} from 'node:fs'
import {listRuns} from '../lib/state/history.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'

/** For shell completion: the recorded run ids, newest first, one a line. */
export default class RunIds extends BaseCommand {
  static hidden = true
  static summary = 'Run ids for shell completion, newest first.'
  static examples = ['<%= config.bin %> run-ids']
  static flags = {'state-db': stateDbFlag}
  static enableJsonFlag = false

  async run() {
    const {flags} = await this.parse(RunIds)
    const stateDb = stateDbPath(flags['state-db'])
    // Completion must not create a state database where there is none.
    if (!existsSync(stateDb)) return
    for (const run of listRuns({stateDb, limit: 50}).runs) this.log(String(run.id))
  }
}
