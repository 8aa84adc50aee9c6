import {Args} from '@oclif/core'
import {resumeRequest} from '../lib/push/service.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, networkParams, progressFlags, progressOptions, stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderPushResult} from '../lib/ui/output.js'
import {pushWithProgress} from '../lib/ui/progress.js'

export default class Resume extends BaseCommand {
  static summary = 'Continue an interrupted or failed push with its recorded parameters.'
  static description =
    'Without RUN_ID, resumes the most recent unfinished run. The run stays pinned to the commit it resolved; credentials are looked up again (they are never stored).'
  static examples = ['<%= config.bin %> resume', '<%= config.bin %> resume 12 --log-style text']
  static args = {runId: Args.integer({description: 'Run to resume (see `modelcar status`).', required: false, min: 1})}
  static flags = {
    'state-db': stateDbFlag,
    ...networkFlags,
    ...progressFlags,
  }

  async run() {
    const {args, flags} = await this.parse(Resume)
    const request = {...resumeRequest(stateDbPath(flags['state-db']), args.runId), ...networkParams(flags)}
    const {result} = await pushWithProgress(request, progressOptions(flags))
    if (!this.jsonEnabled()) this.log(renderPushResult(result!))
    return {runId: request.runId, ...result}
  }
}
