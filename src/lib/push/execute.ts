// A push, top to bottom: check the target (a registry, or an OCI image layout
// on disk), learn what it holds (discover.ts), record the plan, move every
// file over the push's own pool of workers (skip or cross-mount layers the
// registry already has; a base image's layers come first), then write configs
// and manifests and tag them (publish.ts). A split push moves its share, tags
// a partial manifest, and the shard that finds every layer present tags the
// image. Progress leaves only as events.
import {errorText, ModelcarError, UsageError} from '../errors.js'
import type {HubClient} from '../hf/client.js'
import {shortDigest} from '../oci/digest.js'
import type {LayerRecord} from '../oci/manifest.js'
import {validateTag} from '../oci/reference.js'
import {RegistryClient} from '../oci/client.js'
import type {ImageTarget} from '../oci/target.js'
import type {UploadModes} from '../oci/profiles.js'
import type {RetryPolicy} from '../http/retry.js'
import {sourceKey, type BlobStore} from '../state/blobs.js'
import {discoverForPush, discoveredFor, type Discovery, type DiscoverySource, type ReuseCandidate} from './discover.js'
import {assignShards, splitTag} from './split.js'
import type {RunFileRow, RunStore} from '../state/runs.js'
import {copyBaseLayers} from './base-image.js'
import {PushEvents, type FileOutcome} from './events.js'
import {INTERRUPT_GRACE} from './grace.js'
import {targetName, type PlannedFile, type PushParams, type PushPlan} from './plan.js'
import type {LayerCheckpoint} from '../state/checkpoint.js'
import {runPool} from './pool.js'
import {publishImage, publishPartial, type PublishAhead} from './publish.js'
import {ConfigSessionAhead, LandingChecks} from './ahead.js'
import {SegmentShares} from './segments.js'
import {transferLayer, type LayerResult} from './transfer.js'

export type {FileOutcome} from './events.js'

/** A layer the registry has already: nothing to upload. */
type Reused = LayerResult & {outcome: Exclude<FileOutcome, 'uploaded'>; from?: string}

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
  /** A client for another repository of the registry (--from-image); discovery reads only the target without it. */
  clientFor?: (repository: string) => Promise<RegistryClient>
  /** What the registry's manifests offer for reuse (set by executePush before files move). */
  discovery?: Discovery
  /** The same, read by the caller while the Hub was still planning (same tag, same sources): awaited instead of reading again. */
  discovering?: Promise<Discovery>
}

export interface PushResult {
  runId?: number
  manifestDigest: string
  imageRef: string
  imageRefDigest: string
  tags: string[]
  files: Array<{path: string; digest: string; size: number; contentSha256: string; outcome: FileOutcome; from?: string}>
  /** Bytes sent in PATCH bodies by this process (re-sends included). */
  bytesUploaded: number
  /** Bytes re-read from the Hub to rebuild hashes of resumed uploads. */
  bytesReread: number
  seconds: number
  /** Things the caller should know although the push succeeded (a tag moved by another push). */
  warnings: string[]
  /** false: a split push whose other shards have not all finished; the tags name its partial manifest. Always set by a push. */
  complete?: boolean
  /** Shards whose layers are still missing (split pushes only). */
  waitingFor?: number[]
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
  if (params.split) validateTag(splitTag(plan.tag, params.split), 'the split tag (shorten --target-tag)')
  const shards = params.split ? assignShards(plan.files, params.split.count) : undefined
  const mine = shards ? plan.files.filter((f) => shards.get(f.path) === params.split!.index) : plan.files
  deps.runs?.setPlan(runId!, {sha: plan.sha, tag: plan.tag, files: mine})
  if (plan.base) {
    // Base layers are copied registry to registry (params.ts refuses --base-image with a layout).
    if (!(registry instanceof RegistryClient)) throw new UsageError('--base-image needs a registry target: push with --registry.')
    events.emit('phase', `Bringing the layers of ${plan.base.image.name}@${shortDigest(plan.base.image.digest)}`)
    await copyBaseLayers(plan.base, registry, {signal: deps.signal})
  }
  // A layout on disk lists no other images to reuse layers from (its own blobs answer HEAD).
  if (!params.force && !deps.discovery && registry instanceof RegistryClient) {
    deps = {...deps, discovery: await (deps.discovering ?? discoverFor(plan, deps))}
    events.emit('discovered', deps.discovery!)
  }

  const results = new Map<string, LayerResult & {outcome: FileOutcome; from?: string}>()
  let bytesUploaded = 0
  let bytesReread = 0
  // Biggest first, so the last worker is not left alone with the largest shard.
  const queue = [...mine].sort((a, b) => b.layerSize - a.layerSize || (a.path < b.path ? -1 : 1))
  for (const file of queue) events.emit('fileQueued', file)
  const shares = new SegmentShares(params.workers)
  const landings = new LandingChecks()
  // A layout's sessions are local files: no round trip to save, and its pushBlob writes the config whole.
  const configSession = registry instanceof RegistryClient ? new ConfigSessionAhead(registry, queue) : undefined
  // An interrupt waits for the uploads in flight to land (push/grace.ts): say so, or the wait looks like a hang.
  let inFlight = 0
  const onInterrupt = () => {
    if (inFlight > 0)
      events.emit(
        'phase',
        `Interrupted: letting the uploads in flight land (while their bytes move, up to ${INTERRUPT_GRACE.maxMs / 1000} s); interrupt again to stop at once`,
      )
  }
  deps.signal?.addEventListener('abort', onInterrupt, {once: true})
  const failures = await runPool(
    queue,
    params.workers,
    async (file, signal) => {
      events.emit('fileStarted', file)
      inFlight++
      configSession?.taken()
      // A worker holds its share from the moment it takes a file: a share is lent only by a worker with nothing left to take.
      const share = shares.join(file.path, file.size)
      try {
        const saved = params.force ? undefined : deps.runs?.file(runId!, file.path)
        const reused = params.force ? undefined : ((await alreadyPushed(file, saved, deps)) ?? (await reuseExisting(file, plan, deps)))
        if (reused) {
          if (reused.outcome === 'exists') remember(file, reused, plan, deps) // it may have been committed by a process that died before recording it
          results.set(file.path, reused)
          configSession?.moved(file, file.layerSize)
          const {outcome, from, ...result} = reused
          deps.runs?.fileDone(runId!, file.path, result)
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
          segments: share,
          onProgress: (bytes) => {
            configSession?.moved(file, bytes)
            events.emit('fileProgress', file, bytes)
          },
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
        landings.add(file, registry.checkBlob(result.digest, result.size))
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
      } finally {
        inFlight--
        share.leave()
      }
    },
    {failFast: params.failFast, signal: deps.signal},
  )
    .catch(async (error: unknown) => {
      await configSession?.close()
      throw error
    })
    .finally(() => deps.signal?.removeEventListener('abort', onInterrupt))
  if (failures.length > 0) {
    await configSession?.close()
    throw new FilesFailedError(
      failures.map((f) => ({path: f.item.path, error: errorText(f.error)})),
      runId,
    )
  }
  // The manifest waits for every layer's check; the config does not.
  const landed = landings.failures().then((failed) => {
    if (failed.length === 0) return
    for (const {file, error} of failed) {
      deps.runs?.fileFailed(runId!, file.path, errorText(error))
      events.emit('fileFailed', file, error)
    }
    throw new FilesFailedError(
      failed.map((f) => ({path: f.file.path, error: errorText(f.error)})),
      runId,
    )
  })
  landed.catch(() => undefined) // awaited by the publish below
  const ahead: PublishAhead = {landed, configSession: configSession?.take()}

  const layerOf = (f: PlannedFile): LayerRecord => {
    const r = results.get(f.path)!
    return {path: f.path, digest: r.digest, size: r.size, contentSha256: r.contentSha256, ...(f.lfsSha256 ? {} : {gitBlobId: f.oid})}
  }
  const summary = () => ({runId, bytesUploaded, bytesReread, seconds: (Date.now() - started) / 1000})
  if (params.split) {
    // This shard's layers under its split tag, so the others (and later pushes) find them.
    const tag = splitTag(plan.tag, params.split)
    const digest = await publishPartial(mine.map(layerOf), plan, registry, tag, ahead)
    events.emit('manifestPushed', {digest, tags: [tag]})
    const waitingFor = await otherShards(plan, shards!, results, deps)
    if (waitingFor.length > 0) {
      events.emit('phase', `Shard(s) ${waitingFor.join(', ')} not finished yet: the last shard to finish pushes the image`)
      const files = mine.map((f) => ({path: f.path, ...results.get(f.path)!}))
      return {...summary(), ...refs(plan, digest, tag), tags: [tag], files, warnings: [], complete: false, waitingFor}
    }
  }
  events.emit('phase', 'Pushing config and manifest')
  const tags = [plan.tag, ...params.alsoTags.filter((t) => t !== plan.tag)]
  // A split's partial manifest took the session opened ahead.
  const manifestDigest = await publishImage(plan.files.map(layerOf), plan, registry, tags, params.split ? {landed} : ahead)
  events.emit('manifestPushed', {digest: manifestDigest, tags})
  const warnings = await movedTags(registry, tags, manifestDigest)
  for (const warning of warnings) events.emit('warning', warning)
  const files = plan.files.map((f) => ({path: f.path, ...results.get(f.path)!}))
  return {...summary(), ...refs(plan, manifestDigest, plan.tag), tags, files, warnings, complete: true}
}

function refs(plan: PushPlan, digest: string, tag: string) {
  const base = targetName(plan.params)
  return {manifestDigest: digest, imageRef: `${base}:${tag}`, imageRefDigest: `${base}@${digest}`}
}

/** What the target repository's tags and --from-image offer; never fails the push. */
async function discoverFor(plan: PushPlan, deps: PushDeps, only?: DiscoverySource[]): Promise<Discovery> {
  if (!(deps.registry instanceof RegistryClient)) throw new UsageError('split pushes and --from-image need a registry target.')
  const clientFor = deps.clientFor ?? (() => Promise.reject(new Error('no client for another repository')))
  return discoverForPush(plan.params, deps.registry, plan.tag, clientFor, only)
}

/**
 * Is every layer of the full image in the registry? The other shards' partial
 * manifests (and what discovery found before) name them; each is HEADed (or
 * mounted) like any reused layer. Fills `results`; returns the shards still missing.
 */
async function otherShards(
  plan: PushPlan,
  shards: Map<string, number>,
  results: Map<string, LayerResult & {outcome: FileOutcome; from?: string}>,
  deps: PushDeps,
): Promise<number[]> {
  const {index, count} = plan.params.split!
  const others = Array.from({length: count}, (_, i) => i).filter((i) => i !== index)
  const sources = others.map((i) => ({repository: plan.params.targetRepo, reference: splitTag(plan.tag, {index: i, count})}))
  const partials = await discoverFor(plan, deps, sources)
  const discovery = mergeDiscoveries(partials, deps.discovery)
  const missing = new Set<number>()
  const theirs = plan.files.filter((f) => !results.has(f.path))
  const failures = await runPool(
    theirs,
    plan.params.workers,
    async (file) => {
      const found = await reuseExisting(file, plan, {...deps, discovery})
      if (found) {
        if (found.outcome === 'exists') remember(file, found, plan, deps)
        results.set(file.path, found)
      } else missing.add(shards.get(file.path)!)
    },
    {failFast: true, signal: deps.signal},
  )
  if (failures.length > 0) throw failures[0].error
  return [...missing].sort((a, b) => a - b)
}

function mergeDiscoveries(a: Discovery, b: Discovery | undefined): Discovery {
  if (!b) return a
  const layers = new Map(a.layers)
  for (const [path, list] of b.layers) layers.set(path, [...(layers.get(path) ?? []), ...list])
  return {layers, manifestsRead: a.manifestsRead + b.manifestsRead, notes: [...a.notes, ...b.notes]}
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
 * The bytes of a layer depend only on its path and content, so a blob that
 * holds the same file can be reused: one the registry's manifests list
 * (discovery, the authority) or one the state db remembers (its cache).
 *
 * What is checked: the blob exists in the target (HEAD, or a mount from the
 * repository that has it) with the layer size this file's path and size
 * give. What stays trusted: that the manifest's annotations (content sha256,
 * git blob id) describe the blob's bytes. That is acceptable: anyone who can
 * write such a manifest can already tag any image in this registry; the new
 * manifest references the blob by its digest, so the image stays
 * self-consistent, and `modelcar verify --deep --against-hf` re-hashes
 * every layer and checks its files against the Hub.
 */
async function reuseExisting(file: PlannedFile, plan: PushPlan, deps: PushDeps): Promise<Reused | undefined> {
  const target = plan.params.targetRepo
  for (const known of reuseCandidates(file, plan, deps)) {
    if (known.size !== file.layerSize || !known.contentSha256) continue
    const result = {digest: known.digest, size: known.size, contentSha256: known.contentSha256}
    const from = known.from ? {from: known.from} : {}
    if (known.repository === target) {
      const found = await deps.registry.headBlob(known.digest)
      if (found && found.size === known.size) return {...result, outcome: 'exists', ...from}
    } else if (await deps.registry.mountBlob(known.digest, known.repository).catch(() => false)) {
      // Mounted, but with the size this file needs? Otherwise upload it after all.
      const mounted = await deps.registry.checkBlob(known.digest, known.size).then(
        () => true,
        () => false,
      )
      if (!mounted) continue
      remember(file, result, plan, deps)
      return {...result, outcome: 'mounted', ...from}
    }
  }
  return undefined
}

/** The registry's candidates in the target, then the state db's, then the registry's in other repositories (a mount). */
function reuseCandidates(file: PlannedFile, plan: PushPlan, deps: PushDeps): ReuseCandidate[] {
  const target = plan.params.targetRepo
  const found = discoveredFor(file, deps.discovery)
  const cached = deps.blobs?.find(deps.registryKey, target, sourceKey(file)) ?? []
  const all = [...found.filter((c) => c.repository === target), ...cached, ...found.filter((c) => c.repository !== target)]
  const seen = new Set<string>()
  return all.filter((c) => {
    const key = `${c.repository}\u0000${c.digest}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
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
