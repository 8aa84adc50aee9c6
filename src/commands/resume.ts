import {Args} from '@oclif/core'
import {push, resumeRequest} from '../lib/push/service.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, stateDbFlag, stateDbPath} from '../lib/ui/flags.js'
import {renderPushResult} from '../lib/ui/output.js'
import {createProgress} from '../lib/ui/progress.js'
import {withSignals} from '../lib/ui/signals.js'

export default class Resume extends BaseCommand {
  static summary = 'Continue an interrupted or failed push with its recorded parameters.'
  static description = 'Without RUN_ID, resumes the most recent unfinished run. The run stays pinned to the commit it resolved; credentials are looked up again (they are never stored).'
  static examples = ['<%= config.bin %> resume', '<%= config.bin %> resume 12']
  static args = {runId: Args.integer({description: 'Run to resume (see `modelcar status`).', required: false, min: 1})}
  static flags = {
    'state-db': stateDbFlag,
    ...networkFlags,
  }

  async run() {
    const {args, flags} = await this.parse(Resume)
    const request = {...resumeRequest(stateDbPath(flags['state-db']), args.runId), maxRetries: flags['max-retries'], stallTimeoutS: flags['stall-timeout']}
    const progress = createProgress({verbose: flags.verbose})
    try {
      const {result} = await withSignals((signal) => push(request, {progress, signal}), `Run \`modelcar resume ${request.runId}\` to continue.`)
      if (!this.jsonEnabled()) this.log(renderPushResult(result!))
      return {runId: request.runId, ...result}
    } finally {
      progress.stop()
    }
  }
}
