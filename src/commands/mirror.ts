import {Args, Flags} from '@oclif/core'
import {MAX_CONCURRENCY, readMirrorFile} from '../lib/mirror/file.js'
import {mirror, MirrorEvents, MirrorFailedError} from '../lib/mirror/service.js'
import {mirrorUnits, shardOf, shardUnits} from '../lib/mirror/units.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, networkParams, progressFlags, stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderMirror, renderMirrorPlan, watchMirror} from '../lib/ui/mirror-render.js'
import {withSignals} from '../lib/ui/signals.js'
import {terminalWidth} from '../lib/ui/text-width.js'

export default class Mirror extends BaseCommand {
  static summary = 'Mirror a catalogue of Hugging Face repos (a YAML file) into OCI registries.'
  static description =
    'Each entry (and each of its revisions) is one push, recorded as a normal run. An entry whose tag already holds its commit costs one Hub call and one manifest read. Shards split the entries deterministically (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX). See README, "Mirroring a catalogue".'
  static examples = [
    '<%= config.bin %> mirror models.yaml',
    '<%= config.bin %> mirror models.yaml --concurrency 4 --json',
    'MODELCAR_SHARD_COUNT=3 JOB_COMPLETION_INDEX=1 <%= config.bin %> mirror /config/mirror.yaml',
  ]

  static args = {
    file: Args.string({description: 'The mirror file (YAML).', required: true}),
  }

  static flags = {
    concurrency: Flags.integer({
      description: `Entries pushed at once (1-${MAX_CONCURRENCY}); each push keeps its own workers. Default: the file's concurrency, else 2.`,
      min: 1,
      max: MAX_CONCURRENCY,
    }),
    'shard-index': Flags.integer({
      description: 'This process takes the entries of shard N (0-based).',
      env: 'JOB_COMPLETION_INDEX',
      min: 0,
      helpGroup: 'shards',
    }),
    'shard-count': Flags.integer({
      description: 'Number of shards sharing the file (default 1).',
      env: 'MODELCAR_SHARD_COUNT',
      min: 1,
      helpGroup: 'shards',
    }),
    'dry-run': Flags.boolean({description: "List this shard's entries and their targets; touches no Hub, registry or state."}),
    'state-db': stateDbFlag,
    ...networkFlags,
    quiet: progressFlags.quiet,
  }

  async run() {
    const {args, flags} = await this.parse(Mirror)
    const file = readMirrorFile(args.file)
    const units = mirrorUnits(file.entries, args.file)
    const shard = shardOf(flags['shard-index'], flags['shard-count'])
    const mine = shardUnits(units, shard)
    if (flags['dry-run']) {
      if (!this.jsonEnabled()) this.log(renderMirrorPlan(mine, shard, units.length, terminalWidth()))
      return mine.map((u) => ({
        entry: u.entry,
        hfRepo: u.params.hfRepo,
        revision: u.revision,
        target: u.params.targetRepo,
        split: u.params.split,
      }))
    }
    const events = new MirrorEvents()
    if (!flags.quiet) watchMirror(events, {verbose: flags.verbose})
    const request = {
      units: mine,
      concurrency: flags.concurrency ?? file.concurrency ?? 2,
      stateDb: stateDbPath(flags['state-db']),
      network: networkParams(flags),
    }
    const results = await withSignals(
      (signal) => mirror(request, {events, signal}),
      'Run the same mirror again to continue: finished entries are current.',
    )
    if (!this.jsonEnabled()) this.log(renderMirror(results, shard, terminalWidth()))
    if (results.some((r) => r.outcome === 'failed')) throw new MirrorFailedError(results)
    return results
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    // --json keeps its shape when entries failed: the array, then the exit code.
    if (error instanceof MirrorFailedError && this.jsonEnabled()) {
      this.logJson(error.results)
      this.exit(error.exitCode)
    }
    return super.catch(error)
  }
}
