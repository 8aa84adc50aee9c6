import {Flags} from '@oclif/core'
import {UPLOAD_MODES} from '../lib/oci/profiles.js'
import {pushParams, MAX_WORKERS} from '../lib/push/params.js'
import {push} from '../lib/push/service.js'
import {plannedReuse, type Discovery} from '../lib/push/discover.js'
import type {PlannedFile, PushPlan} from '../lib/push/plan.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, networkParams, progressFlags, progressOptions, stateDbFlag, stateDbPath} from '../lib/ui/common-flags.js'
import {renderPlan, renderPushResult} from '../lib/ui/output.js'
import {pushWithProgress} from '../lib/ui/progress.js'

export default class Push extends BaseCommand {
  static summary = 'Stream a Hugging Face repo revision into an OCI registry (or an OCI image layout) as a modelcar image.'
  static description =
    'Each file becomes one uncompressed tar layer under /models/, streamed from the Hub to the registry without touching disk. Re-running the same command resumes an interrupted push.'
  static examples = [
    '<%= config.bin %> push --hf-repo Qwen/Qwen3-0.6B --registry registry.example.com --target-repo models/qwen3',
    '<%= config.bin %> push --hf-repo org/model --hf-revision refs/pr/1 --registry localhost:5000 --target-repo m --include "*.json" --dry-run',
    '<%= config.bin %> push --hf-repo org/model --registry ghcr.io --target-repo me/model --log-style github --quiet',
    '<%= config.bin %> push --hf-repo org/model --to oci:./model-layout --target-tag v1',
  ]

  static usageHints = {
    'hf-repo': 'the Hugging Face repo to push',
    registry: 'the registry to push to',
    'target-repo': 'the repository in the registry',
  }

  // Help lists the required flags first (oclif shows ungrouped flags before the groups), then the rest by purpose.
  static flags = {
    'hf-repo': Flags.string({description: 'Hugging Face model repo: org/name (or a legacy name).', required: true, helpValue: 'org/name'}),
    registry: Flags.string({
      description:
        'Registry host[:port]; an http:// or https:// prefix forces the scheme (loopback hosts default to http). Required unless --to.',
      helpValue: 'host[:port]',
    }),
    'target-repo': Flags.string({
      description: 'Repository in the registry, e.g. models/qwen3. Required unless --to.',
      helpValue: 'path/name',
    }),
    to: Flags.string({
      description:
        'Write the image to an OCI image layout directory instead of a registry (created if new; resumable; ' +
        'skopeo, podman and oras read it, e.g. skopeo copy oci:DIR:TAG docker://…).',
      helpValue: 'oci:DIR',
    }),
    'hf-revision': Flags.string({description: 'Branch, tag, 40-hex commit sha, or refs/pr/N.', default: 'main', helpGroup: 'source'}),
    include: Flags.string({
      description: 'Only files matching this glob (repeatable; `*` matches across folders, as hf download).',
      multiple: true,
      helpGroup: 'source',
    }),
    exclude: Flags.string({description: 'Skip files matching this glob (repeatable).', multiple: true, helpGroup: 'source'}),
    'target-tag': Flags.string({
      description: 'Image tag. Default: the first 12 characters of the resolved commit sha.',
      helpGroup: 'target',
    }),
    'also-tag': Flags.string({
      description: 'More tags for the same manifest (comma-separated, repeatable).',
      multiple: true,
      helpGroup: 'target',
    }),
    workers: Flags.integer({description: `Files pushed in parallel (1-${MAX_WORKERS}).`, default: 4, helpGroup: 'transfer'}),
    'chunk-mib': Flags.integer({
      description:
        'Bytes per PATCH in MiB (streamed, not buffered: memory does not depend on it). ' +
        'Default: about 2 s of data at the measured rate, 8-64 MiB.',
      helpGroup: 'transfer',
    }),
    'upload-mode': Flags.string({
      description:
        'How layers are uploaded: auto picks by registry (see README) and steps down when a registry refuses; chunked PATCHes,' +
        ' one streamed PATCH per layer, or one monolithic PUT (reads each file twice).',
      options: UPLOAD_MODES,
      default: 'auto',
      helpGroup: 'transfer',
    }),
    'dry-run': Flags.boolean({
      description:
        'Plan only: list files, layer sizes, the target reference and which files the registry already holds (read only); uploads nothing and writes no state.',
      helpGroup: 'transfer',
    }),
    'fail-fast': Flags.boolean({
      description: 'Stop at the first failed file (default).',
      exclusive: ['continue-on-error'],
      helpGroup: 'transfer',
    }),
    'continue-on-error': Flags.boolean({
      description: 'Finish every file that can be finished, push no manifest, and report the failures.',
      exclusive: ['fail-fast'],
      helpGroup: 'transfer',
    }),
    force: Flags.boolean({
      description: 'Push every file again from zero, ignoring saved state and blobs already in the registry.',
      helpGroup: 'transfer',
    }),
    'base-image': Flags.string({
      description:
        "Put the model layers on top of this image (e.g. a busybox) so consumers that need a shell, as KServe's sidecar mode, " +
        'can run it; resolved to a digest when the push starts.',
      helpGroup: 'target',
    }),
    platform: Flags.string({
      description:
        'With a multi-platform --base-image: one image per platform (os/arch[/variant], comma-separated, repeatable), ' +
        'listed in an index; the model layers are uploaded once.',
      multiple: true,
      helpGroup: 'target',
    }),
    modelpack: Flags.boolean({
      description: 'Also list a CNCF ModelPack manifest over the same layer blobs in an index (no extra layer bytes).',
      helpGroup: 'target',
    }),
    'from-image': Flags.string({
      description:
        'An image on the same registry (e.g. the previous release in another repository) whose layers this push may mount ' +
        "instead of uploading (repeatable); the target repository's own tags are always consulted.",
      multiple: true,
      helpGroup: 'target',
    }),
    'split-index': Flags.integer({
      description: 'This process pushes share N of the files (0-based; with --split-count); used by modelcar mirror.',
      hidden: true,
    }),
    'split-count': Flags.integer({description: 'The files are shared among this many processes.', hidden: true}),
    'state-db': stateDbFlag,
    ...networkFlags,
    ...progressFlags,
  }

  async run() {
    const {flags} = await this.parse(Push)
    const params = pushParams(flags)
    const stateDb = stateDbPath(flags['state-db'])
    if (flags['dry-run']) {
      const {plan, discovery} = await push({...params, dryRun: true, stateDb, ...networkParams(flags)})
      if (!this.jsonEnabled()) this.log(renderPlan(plan, undefined, discovery))
      return {dryRun: true, ...planJson(plan, discovery)}
    }
    const request = {...params, dryRun: false, stateDb, ...networkParams(flags)}
    const {plan, result} = await pushWithProgress(request, progressOptions(flags))
    if (!this.jsonEnabled()) this.log(renderPushResult(result!))
    return {...planJson(plan), ...result, warnings: [...plan.warnings, ...result!.warnings]}
  }
}

function planJson(plan: PushPlan, discovery?: Discovery) {
  const reuseFrom = (f: PlannedFile) => (discovery ? {reuseFrom: plannedReuse(f, discovery, plan.params.targetRepo) ?? null} : {})
  return {
    hfRepo: plan.params.hfRepo,
    revision: plan.params.revision,
    sha: plan.sha,
    tag: plan.tag,
    imageRef: plan.imageRef,
    totalBytes: plan.totalBytes,
    totalLayerBytes: plan.totalLayerBytes,
    ...(plan.params.layout ? {layout: plan.params.layout} : {registryProfile: plan.profile.name}),
    warnings: plan.warnings,
    ...(plan.base ? {baseImage: {name: plan.base.image.name, digest: plan.base.image.digest}} : {}),
    ...(discovery
      ? {
          discovery: {
            manifestsRead: discovery.manifestsRead,
            ...(discovery.skipped ? {skipped: discovery.skipped} : {}),
            notes: discovery.notes,
          },
        }
      : {}),
    files: plan.files.map((f) => ({
      path: f.path,
      size: f.size,
      layerSize: f.layerSize,
      ...(f.lfsSha256 ? {lfsSha256: f.lfsSha256} : {}),
      ...reuseFrom(f),
    })),
  }
}
