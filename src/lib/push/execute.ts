// A push, top to bottom: check the registry, record the plan, move every file
// over the push's own pool of workers (skip or cross-mount layers the
// registry already has; a base image's layers come first), then write configs
// and manifests and tag them (publish.ts). Progress leaves only as events.
import {ModelcarError, UsageError} from '../errors.js'
import type {HubClient} from '../hf/client.js'
import {shortDigest} from '../oci/digest.js'
import type {LayerRecord} from '../oci/manifest.js'
import {RegistryClient} from '../oci/client.js'
import type {ImageTarget} from '../oci/target.js'
import type {UploadModes} from '../oci/profiles.js'
import type {RetryPolicy} from '../http/retry.js'
import {sourceKey, type BlobStore} from '../state/blobs.js'
import type {RunFileRow, RunStore} from '../state/runs.js'
import {copyBaseLayers} from './base-image.js'
import {PushEvents, type FileOutcome} from './events.js'
import {targetName, type PlannedFile, type PushParams, type PushPlan} from './plan.js'
import type {LayerCheckpoint} from '../state/checkpoint.js'
import {runPool} from './pool.js'
import {publishImage} from './publish.js'
import {transferLayer, type LayerResult} from './transfer.js'

export type {FileOutcome} from './events.js'

/** A layer the registry has already: nothing to upload. */
type Reused = LayerResult & {outcome: Exclude<FileOutcome, 'uploaded'>}

export interface PushDeps {
  hub: HubClient
  registry: ImageTarget
  runs?: RunStore
  blobs?: BlobStore
  events?: PushEvents
  policy?: RetryPolicy
  signal?: AbortSignal
  /** Identifies the registry in the blob history (scheme://host). */
  registryKey: string
  /** The upload mode in force (learnt from refusals as the push goes). */
  modes: UploadModes
}

export interface PushResult {
  runId?: number
  manifestDigest: string
  imageRef: string
  imageRefDigest: string
  tags: string[]
  files: Array<{path: string; digest: string; size: number; contentSha256: string; outcome: FileOutcome}>
  /** Bytes sent in PATCH bodies by this process (re-sends included). */
  bytesUploaded: number
  /** Bytes re-read from the Hub to rebuild hashes of resumed uploads. */
  bytesReread: number
  seconds: number
  /** Things the caller should know although the push succeeded (a tag moved by another push). */
  warnings: string[]
}

export class FilesFailedError extends ModelcarError {
  constructor(
    readonly failures: Array<{path: string; error: string}>,
    runId?: number,
  ) {
    super(
      `${failures.length} file(s) failed (${failures
        .slice(0, 3)
        .map((f) => `${f.path}: ${f.error}`)
        .join(
          '; ',
        )}${failures.length > 3 ? '; …' : ''}); no manifest was pushed${runId ? `: fix the cause and run \`modelcar resume ${runId}\`` : ''}.`,
      {code: 'E_FILES_FAILED'},
    )
  }
}

/**
 * Another push may tag the same repository at the same moment: read each tag
 * back, and say so when it no longer points at this push's manifest (the
 * digest printed stays right; the tag does not).
 */
async function movedTags(registry: ImageTarget, tags: string[], digest: string): Promise<string[]> {
  const warnings: string[] = []
  for (const tag of tags) {
    const now = await registry.resolveManifest(tag).catch(() => undefined)
    if (now && now !== digest) {
      warnings.push(
        `tag ${tag} now points at ${now}, not at this push's ${digest}: another push moved it; use the digest, or push again to take the tag back`,
      )
    }
  }
  return warnings
}

export async function executePush(plan: PushPlan, deps: PushDeps, runId?: number): Promise<PushResult> {
  const started = Date.now()
  const {registry, events = new PushEvents()} = deps
  const params = plan.params
  deps.runs?.setPlan(runId!, {sha: plan.sha, tag: plan.tag, files: plan.files})
  if (plan.base) {
    // Base layers are copied registry to registry (params.ts refuses --base-image with a layout).
    if (!(registry instanceof RegistryClient)) throw new UsageError('--base-image needs a registry target: push with --registry.')
    events.emit('phase', `Bringing the layers of ${plan.base.image.name}@${shortDigest(plan.base.image.digest)}`)
    await copyBaseLayers(plan.base, registry, {signal: deps.signal})
  }

  const results = new Map<string, LayerResult & {outcome: FileOutcome}>()
  let bytesUploaded = 0
  let bytesReread = 0
  // Biggest first, so the last worker is not left alone with the largest shard.
  const queue = [...plan.files].sort((a, b) => b.layerSize - a.layerSize || (a.path < b.path ? -1 : 1))
  for (const file of queue) events.emit('fileQueued', file)
  const failures = await runPool(
    queue,
    params.workers,
    async (file, signal) => {
      events.emit('fileStarted', file)
      try {
        const saved = params.force ? undefined : deps.runs?.file(runId!, file.path)
        const reused = params.force ? undefined : ((await alreadyPushed(file, saved, deps)) ?? (await reuseExisting(file, plan, deps)))
        if (reused) {
          if (reused.outcome === 'exists') remember(file, reused, plan, deps) // it may have been committed by a process that died before recording it
          results.set(file.path, reused)
          deps.runs?.fileDone(runId!, file.path, reused)
          const {outcome, ...result} = reused
          events.emit('fileSkipped', file, result, outcome)
          return
        }
        deps.runs?.fileUploading(runId!, file.path)
        const resume = params.force ? undefined : ownSession(deps.runs?.savedCheckpoint(runId!, file.path), params)
        const result = await transferLayer(file, {
          hub: deps.hub,
          hfRepo: params.hfRepo,
          sha: plan.sha,
          registry,
          modes: deps.modes,
          chunkSize: params.chunkMiB === undefined ? undefined : params.chunkMiB * 1024 * 1024,
          policy: deps.policy,
          signal,
          resume,
          onProgress: (bytes) => events.emit('fileProgress', file, bytes),
          onCheckpoint: (cp) => deps.runs?.checkpoint(runId!, file.path, cp),
          onHashed: (hashed) => deps.runs?.fileHashed(runId!, file.path, hashed),
          onRestart: () => deps.runs?.clearCheckpoint(runId!, file.path),
          onRetry: (message) => events.emit('retry', message),
          onResumed: (offset) => events.emit('fileResumed', file, offset),
          onTransferStats: (stats) => {
            bytesUploaded += stats.uploaded
            bytesReread += stats.reread
            deps.runs?.addTransfer(runId!, stats.uploaded, stats.reread)
          },
        })
        remember(file, result, plan, deps)
        deps.runs?.fileDone(runId!, file.path, result)
        results.set(file.path, {...result, outcome: 'uploaded'})
        events.emit('fileDone', file, result)
      } catch (error) {
        // Stopped because another file failed first (fail-fast) or the user
        // interrupted: say that, not the abort's own words, once per file.
        const shown = signal.aborted
          ? new ModelcarError(deps.signal?.aborted ? 'interrupted' : 'cancelled: another file failed first', {code: 'E_CANCELLED'})
          : error
        // An interrupted file keeps its checkpoint for the next run.
        if (!deps.signal?.aborted) deps.runs?.fileFailed(runId!, file.path, errorText(shown))
        events.emit('fileFailed', file, shown)
        throw error
      }
    },
    {failFast: params.failFast, signal: deps.signal},
  )
  if (failures.length > 0)
    throw new FilesFailedError(
      failures.map((f) => ({path: f.item.path, error: errorText(f.error)})),
      runId,
    )

  const layers: LayerRecord[] = plan.files.map((f) => {
    const r = results.get(f.path)!
    return {path: f.path, digest: r.digest, size: r.size, contentSha256: r.contentSha256}
  })
  events.emit('phase', 'Pushing config and manifest')
  const tags = [plan.tag, ...params.alsoTags.filter((t) => t !== plan.tag)]
  const manifestDigest = await publishImage(layers, plan, registry, tags)
  events.emit('manifestPushed', {digest: manifestDigest, tags})
  const warnings = await movedTags(registry, tags, manifestDigest)
  for (const warning of warnings) events.emit('warning', warning)
  const base = targetName(params)
  return {
    runId,
    manifestDigest,
    imageRef: `${base}:${plan.tag}`,
    imageRefDigest: `${base}@${manifestDigest}`,
    tags,
    files: plan.files.map((f) => ({path: f.path, ...results.get(f.path)!})),
    bytesUploaded,
    bytesReread,
    seconds: (Date.now() - started) / 1000,
    warnings,
  }
}

/**
 * A file a previous attempt of this run finished, or hashed completely and
 * began to commit (the process may have died before hearing the answer):
 * is its blob in the registry?
 */
async function alreadyPushed(file: PlannedFile, saved: RunFileRow | undefined, deps: PushDeps): Promise<Reused | undefined> {
  if (!saved?.layer_digest || !saved.content_sha256) return undefined
  const found = await deps.registry.headBlob(saved.layer_digest)
  if (!found || found.size !== file.layerSize) return undefined
  return {digest: saved.layer_digest, size: file.layerSize, contentSha256: saved.content_sha256, outcome: 'exists'}
}

/**
 * The bytes of a layer depend only on its path and content, so a blob pushed
 * before from the same file can be reused: HEAD it here, or mount it from the
 * repository where we pushed it.
 */
async function reuseExisting(file: PlannedFile, plan: PushPlan, deps: PushDeps): Promise<Reused | undefined> {
  if (!deps.blobs) return undefined
  for (const known of deps.blobs.find(deps.registryKey, plan.params.targetRepo, sourceKey(file))) {
    if (known.size !== file.layerSize || !known.contentSha256) continue
    const result = {digest: known.digest, size: known.size, contentSha256: known.contentSha256}
    if (known.repository === plan.params.targetRepo) {
      const found = await deps.registry.headBlob(known.digest)
      if (found && found.size === known.size) return {...result, outcome: 'exists'}
    } else if (await deps.registry.mountBlob(known.digest, known.repository).catch(() => false)) {
      await deps.registry.checkBlob(known.digest, known.size)
      remember(file, result, plan, deps)
      return {...result, outcome: 'mounted'}
    }
  }
  return undefined
}

/** A layout's sessions are file: URLs, a registry's http(s): a checkpoint of the other kind (a damaged database) is no session. */
function ownSession(cp: LayerCheckpoint | undefined, params: PushParams): LayerCheckpoint | undefined {
  return cp && (cp.location.protocol === 'file:') === Boolean(params.layout) ? cp : undefined
}

/** The blob history: this layer is in the target repository now. */
function remember(file: PlannedFile, layer: LayerResult, plan: PushPlan, deps: PushDeps): void {
  const params = plan.params
  deps.blobs?.record({
    registry: deps.registryKey,
    repository: params.targetRepo,
    digest: layer.digest,
    size: layer.size,
    sourceKey: sourceKey(file),
    hfRepo: params.hfRepo,
    hfSha: plan.sha,
    path: file.path,
    contentSha256: layer.contentSha256,
  })
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
