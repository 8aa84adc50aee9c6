import {Flags} from '@oclif/core'
import {UPLOAD_MODES} from '../lib/oci/profiles.js'
import {pushParams, MAX_WORKERS} from '../lib/push/flags.js'
import {push} from '../lib/push/service.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, stateDbFlag, stateDbPath} from '../lib/ui/flags.js'
import {renderPlan, renderPushResult} from '../lib/ui/output.js'
import {createProgress} from '../lib/ui/progress.js'
import {withSignals} from '../lib/ui/signals.js'

export default class Push extends BaseCommand {
  static summary = 'Stream a Hugging Face repo revision into an OCI registry as a modelcar image.'
  static description = 'Each file becomes one uncompressed tar layer under /models/, streamed from the Hub to the registry without touching disk. Re-running the same command resumes an interrupted push.'
  static examples = [
    '<%= config.bin %> push --hf-repo Qwen/Qwen3-0.6B --registry registry.example.com --target-repo models/qwen3',
    '<%= config.bin %> push --hf-repo org/model --hf-revision refs/pr/1 --registry localhost:5000 --target-repo m --include "*.json" --dry-run',
  ]

  static flags = {
    'hf-repo': Flags.string({description: 'Hugging Face model repo: org/name (or a legacy name).', required: true}),
    'hf-revision': Flags.string({description: 'Branch, tag, 40-hex commit sha, or refs/pr/N.', default: 'main'}),
    registry: Flags.string({description: 'Registry host[:port]; an http:// or https:// prefix forces the scheme (loopback hosts default to http).', required: true}),
    'target-repo': Flags.string({description: 'Repository in the registry, e.g. models/qwen3.', required: true}),
    'target-tag': Flags.string({description: 'Image tag. Default: the first 12 characters of the resolved commit sha.'}),
    'also-tag': Flags.string({description: 'More tags for the same manifest (comma-separated, repeatable).', multiple: true}),
    workers: Flags.integer({description: `Files pushed in parallel (1-${MAX_WORKERS}).`, default: 4}),
    'chunk-mib': Flags.integer({description: 'Bytes per PATCH in MiB (streamed, not buffered: memory does not depend on it).', default: 8}),
    include: Flags.string({description: 'Only files matching this glob (repeatable; `*` matches across folders, as hf download).', multiple: true}),
    exclude: Flags.string({description: 'Skip files matching this glob (repeatable).', multiple: true}),
    'dry-run': Flags.boolean({description: 'Plan only: list files, layer sizes and the target reference; touches no registry and writes no state.'}),
    'fail-fast': Flags.boolean({description: 'Stop at the first failed file (default).', exclusive: ['continue-on-error']}),
    'continue-on-error': Flags.boolean({description: 'Finish every file that can be finished, push no manifest, and report the failures.', exclusive: ['fail-fast']}),
    force: Flags.boolean({description: 'Push every file again from zero, ignoring saved state and blobs already in the registry.'}),
    'upload-mode': Flags.string({description: 'How layers are uploaded: auto picks by registry (see README) and steps down when a registry refuses; chunked PATCHes, one streamed PATCH per layer, or one monolithic PUT (reads each file twice).', options: UPLOAD_MODES, default: 'auto'}),
    'state-db': stateDbFlag,
    ...networkFlags,
  }

  async run() {
    const {flags} = await this.parse(Push)
    const params = pushParams(flags)
    const stateDb = stateDbPath(flags['state-db'])
    if (flags['dry-run']) {
      const {plan} = await push({...params, dryRun: true, stateDb, maxRetries: flags['max-retries'], stallTimeoutS: flags['stall-timeout']})
      if (!this.jsonEnabled()) this.log(renderPlan(plan))
      return {dryRun: true, ...planJson(plan)}
    }
    const progress = createProgress({verbose: flags.verbose})
    try {
      const {plan, result} = await withSignals((signal) => push(
        {...params, dryRun: false, stateDb, maxRetries: flags['max-retries'], stallTimeoutS: flags['stall-timeout']},
        {progress, signal},
      ))
      if (!this.jsonEnabled()) this.log(renderPushResult(result!))
      return {...planJson(plan), ...result}
    } finally {
      progress.stop()
    }
  }
}

function planJson(plan: Awaited<ReturnType<typeof push>>['plan']) {
  return {
    hfRepo: plan.params.hfRepo, revision: plan.params.revision, sha: plan.sha, tag: plan.tag, imageRef: plan.imageRef,
    totalBytes: plan.totalBytes, totalLayerBytes: plan.totalLayerBytes, registryProfile: plan.profile.name, warnings: plan.warnings,
    files: plan.files.map((f) => ({path: f.path, size: f.size, layerSize: f.layerSize, ...(f.lfsSha256 ? {lfsSha256: f.lfsSha256} : {})})),
  }
}
