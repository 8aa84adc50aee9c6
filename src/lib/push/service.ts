// The push service behind `modelcar push` and `modelcar resume`: builds the
// Hub and registry clients from flags and the environment, finds or records
// the run (re-running the same push continues it), takes the run's lock,
// executes, and closes the run record whatever happens. It renders nothing:
// what happens leaves through the caller's PushEvents.
import {hubClient, registryClient, retryPolicy, type NetworkOptions} from '../clients.js'
import {DEFAULT_HF_ENDPOINT} from '../hf/token.js'
import {errorText, EXIT, ModelcarError, UsageError} from '../errors.js'
import {parseRegistry} from '../oci/reference.js'
import {profileFor, UploadModes, type UploadModeFlag} from '../oci/profiles.js'
import {BlobStore} from '../state/blobs.js'
import {ModeStore} from '../state/modes.js'
import {openStateDb} from '../state/db.js'
import {lockRun} from '../state/lock.js'
import {layoutEndpoint} from '../oci/layout-reference.js'
import type {RegistryClient} from '../oci/client.js'
import type {ImageTarget} from '../oci/target.js'
import {checkpointFromRow} from '../state/checkpoint.js'
import {RunStore, type RunRow} from '../state/runs.js'
import {parsePlatform, platformText} from '../oci/image.js'
import type {Discovery, DiscoverySource} from './discover.js'
import {PushEvents} from './events.js'
import type {PushResult} from './execute.js'
import {planPush, type PushParams, type PushPlan} from './plan.js'

export interface PushRequest extends PushParams {
  /** The Hub a resumed run started with (modelcar resume); a new push reads HF_ENDPOINT. */
  hfEndpoint?: string
  dryRun: boolean
  stateDb: string
  maxRetries?: number
  /** Seconds without a byte moving before a request is retried. */
  stallTimeoutS?: number
  /** false: accept any certificate from the registry. */
  tlsVerify?: boolean
  /** Continue this run (modelcar resume) rather than look one up. */
  runId?: number
}

export interface PushOutcome {
  plan: PushPlan
  result?: PushResult
  /** --dry-run: what the registry offers for reuse (read only; `skipped` says when it could not be read). */
  discovery?: Discovery
}

export interface PushOptions {
  /** Where the push reports what it does (created by the caller, who renders it). */
  events?: PushEvents
  /** Interrupts the push: transfers stop at a checkpoint and the run is recorded as interrupted. */
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
}

export async function push(req: PushRequest, opts: PushOptions = {}): Promise<PushOutcome> {
  const events = opts.events ?? new PushEvents()
  const env = pinnedEnv(req, opts.env ?? process.env, events)
  const net = {
    maxRetries: req.maxRetries,
    stallTimeoutS: req.stallTimeoutS,
    tlsVerify: req.tlsVerify,
    env,
    onRetry: (m: string) => events.emit('retry', m),
    onRoute: (m: string) => events.emit('route', m),
  }
  const policy = retryPolicy(net)
  const hub = hubClient(net)
  // A damaged or read-only state database is said before the Hub is asked anything.
  const db = req.dryRun ? undefined : openStateDb(req.stateDb)
  // A registry's pre-flight (credentials, ping) runs while the Hub is asked for the plan: on a long
  // round trip that is several RTTs saved. Its failure is said after the plan's own. (A layout
  // directory is only touched once the plan stands.)
  const early = db && !req.layout ? readyRegistry(req, net) : undefined
  early?.catch(() => undefined)
  // The transfer code (half of the push's modules) loads while the Hub answers, not before the first request.
  const execution = db ? import('./execute.js') : undefined
  execution?.catch(() => undefined)
  // Discovery reads the registry's manifests as soon as the Hub has named the commit (the tag is known),
  // while the Hub lists the files: read only, and said nowhere unless the push goes on.
  let discovering: Promise<Discovery> | undefined
  const discoverEarly = ({tag}: {tag: string}) => {
    if (!early || req.force) return
    discovering = early.then((target) => discoverFrom(req, target, tag, net))
    discovering.catch(() => undefined)
  }
  let plan: PushPlan
  try {
    plan = await planPush(req, hub, discoverEarly)
    if (req.baseImage && db) {
      const {resolveBaseImage} = await import('./base-image.js')
      plan.base = await resolveBaseImage(req.baseImage, req.baseDigest, req.platforms, req.registry.baseUrl, net)
    }
  } catch (error) {
    db?.close()
    throw error
  }
  events.emit('plan', plan)
  if (!db) return {plan, ...(req.force ? {} : {discovery: await dryRunDiscovery(req, plan, net)})}

  try {
    const runs = new RunStore(db)
    const key = pushKey(req, plan)
    // Pre-flight before anything is recorded: a wrong port, scheme or missing
    // credentials leave no run behind to resume.
    const registry = await (early ?? readyTarget(req, net))
    if (req.force) await abandon(runs, runs.findResumable(key), registry)
    const previous = req.runId ?? (req.force ? undefined : runs.findResumable(key)?.id)
    const runId =
      previous ??
      runs.create({
        pushKey: key,
        hfSha: plan.sha,
        hfEndpoint: hub.endpoint.href,
        hfRepo: req.hfRepo,
        hfRevision: req.revision,
        registry: req.registry.display,
        targetRepo: req.targetRepo,
        targetTag: plan.tag,
        params: paramsRecord(req, plan),
      })
    const release = lockRun(runs, runId)
    events.emit('run', runId)
    if (previous) {
      runs.restart(runId)
      events.emit('runResumed', runId)
    }
    try {
      const modes = uploadModes(req, new ModeStore(db), events)
      const {executePush} = await execution!
      const result = await executePush(
        plan,
        {
          hub,
          registry,
          runs,
          blobs: new BlobStore(db),
          policy,
          signal: opts.signal,
          registryKey: req.registry.baseUrl,
          clientFor: (repository) => registryClient(req.registry, repository, net),
          modes,
          events,
          discovering,
        },
        runId,
      )
      runs.finish(runId, 'done', {manifestDigest: result.manifestDigest})
      return {plan, result}
    } catch (error) {
      runs.finish(runId, opts.signal?.aborted ? 'interrupted' : 'failed', {error: errorText(error)})
      throw error
    } finally {
      release()
    }
  } finally {
    db.close()
  }
}

/**
 * What --dry-run says about reuse: discovery, read only, and quickly given up
 * (no retries) when the registry cannot be reached; that never fails a dry run.
 */
async function dryRunDiscovery(req: PushRequest, plan: PushPlan, net: NetworkOptions): Promise<Discovery> {
  const once = {...net, maxRetries: 0}
  const {emptyDiscovery} = await import('./discover.js')
  try {
    const target = await registryClient(req.registry, req.targetRepo, once)
    await target.ping()
    return await discoverFrom(req, target, plan.tag, once)
  } catch (error) {
    return emptyDiscovery(errorText(error))
  }
}

/** What the registry's manifests offer a push writing `tag` (discover.ts); other repositories' clients made with `net`. */
async function discoverFrom(req: PushRequest, target: RegistryClient, tag: string, net: NetworkOptions): Promise<Discovery> {
  const {discoverForPush} = await import('./discover.js')
  return discoverForPush(req, target, tag, (repository) => registryClient(req.registry, repository, net))
}

/**
 * A resumed run talks to the Hub it started with (the image's source
 * annotation names it, so another endpoint would give another digest).
 */
function pinnedEnv(req: PushRequest, env: NodeJS.ProcessEnv, events: PushEvents): NodeJS.ProcessEnv {
  if (!req.hfEndpoint) return env
  const here = (env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '')
  const recorded = req.hfEndpoint.replace(/\/+$/, '')
  if (here !== recorded)
    events.emit('warning', `this run started against the Hub at ${recorded}; it continues there (HF_ENDPOINT here says ${here})`)
  return {...env, HF_ENDPOINT: recorded}
}

/**
 * --force replaces an unfinished run of the same push: its upload sessions
 * are cancelled (DELETE, best effort) and it is closed, unless another
 * process still drives it.
 */
async function abandon(runs: RunStore, run: RunRow | undefined, registry: ImageTarget): Promise<void> {
  if (!run) return
  const release = lockRun(runs, run.id)
  try {
    for (const f of runs.files(run.id)) {
      const cp = checkpointFromRow(f)
      if (cp) await registry.cancelUpload(cp.location).catch(() => undefined)
    }
    runs.finish(run.id, 'failed', {error: 'abandoned: a --force push replaced it'})
  } finally {
    release()
  }
}

/**
 * The mode to start in: the flag, else what this registry taught an earlier
 * push, else its profile. Refusals step it down as the push goes (auto only)
 * and are remembered.
 */
function uploadModes(req: PushParams, store: ModeStore, events: PushEvents): UploadModes {
  const profile = profileFor(req.registry.host)
  // A layout takes appends of any size and keeps its sessions: chunked, so a checkpoint follows each one.
  if (req.layout) return new UploadModes('chunked', profile, false)
  if (req.uploadMode !== 'auto') return new UploadModes(req.uploadMode, profile, false)
  const learnt = store.get(req.registry.baseUrl)
  return new UploadModes(learnt?.mode ?? profile.mode, profile, true, (mode, why, refused) => {
    store.set(req.registry.baseUrl, mode, why)
    events.emit('uploadModeLearnt', {registry: req.registry.display, mode, why, refused})
  })
}

/** The recorded push of a run, pinned to its commit and tag, for `modelcar resume`. */
export function resumeRequest(stateDb: string, runId: number | undefined): PushRequest {
  const db = openStateDb(stateDb)
  try {
    const runs = new RunStore(db)
    const run = runId === undefined ? runs.latestUnfinished() : runs.get(runId)
    if (!run) {
      throw new UsageError(
        runId === undefined
          ? 'There is no unfinished push to resume: see `modelcar list`.'
          : `Run ${runId} does not exist: see \`modelcar list\`.`,
        'E_NO_RUN',
      )
    }
    if (run.status === 'done') {
      throw new ModelcarError(`Run ${run.id} already finished (${run.manifest_digest}): nothing to resume.`, {
        code: 'E_RUN_DONE',
        exitCode: EXIT.usage,
      })
    }
    return requestFromRun(run, stateDb)
  } finally {
    db.close()
  }
}

function requestFromRun(run: RunRow, stateDb: string): PushRequest {
  const p = JSON.parse(run.params) as Record<string, unknown>
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  const registryInput = p.registryScheme ? `${text(p.registryScheme)}://${text(p.registry)}` : text(p.registry)
  const layout = typeof p.layout === 'string' ? p.layout : undefined
  return {
    hfRepo: run.hf_repo,
    hfEndpoint: run.hf_endpoint,
    // Pinned: a branch that moved since must not change what this run pushes.
    revision: run.hf_sha ?? run.hf_revision,
    ...(layout ? {registry: layoutEndpoint(layout), layout} : {registry: parseRegistry(registryInput)}),
    targetRepo: run.target_repo,
    targetTag: run.target_tag ?? undefined,
    alsoTags: (p.alsoTags as string[]) ?? [],
    include: (p.include as string[]) ?? [],
    exclude: (p.exclude as string[]) ?? [],
    workers: Number(p.workers ?? 4),
    uploadMode: (p.uploadMode as UploadModeFlag) ?? 'auto',
    chunkMiB: p.chunkMiB === undefined || p.chunkMiB === null ? undefined : Number(p.chunkMiB),
    failFast: p.failFast !== false,
    force: false,
    ...(p.baseImage ? {baseImage: text(p.baseImage), baseDigest: text(p.baseDigest)} : {}),
    ...(Array.isArray(p.platforms) ? {platforms: (p.platforms as string[]).map(parsePlatform)} : {}),
    ...(p.modelpack ? {modelpack: true} : {}),
    ...(Array.isArray(p.fromImages) ? {fromImages: p.fromImages as DiscoverySource[]} : {}),
    ...(p.split ? {split: p.split as {index: number; count: number}} : {}),
    dryRun: false,
    stateDb,
    runId: run.id,
  }
}

/** What makes two pushes "the same": same bytes to the same place. */
function pushKey(req: PushParams, plan: PushPlan): string {
  const key: unknown[] = [req.hfRepo, plan.sha, req.registry.baseUrl, req.targetRepo, plan.tag, req.include, req.exclude]
  // Only when set, so plain pushes keep the keys earlier versions recorded.
  const image = imageRecord(req, plan)
  if (Object.keys(image).length > 0) key.push(image)
  // Each shard of a split push is its own run (another share of the files).
  if (req.split) key.push({split: req.split})
  return JSON.stringify(key)
}

/** Base image (pinned to its digest), platforms and ModelPack: what else decides the image's bytes. */
function imageRecord(req: PushParams, plan: PushPlan): Record<string, unknown> {
  return {
    ...(plan.base ? {baseImage: req.baseImage, baseDigest: plan.base.image.digest} : {}),
    ...(req.platforms?.length ? {platforms: req.platforms.map(platformText)} : {}),
    ...(req.modelpack ? {modelpack: true} : {}),
  }
}

/** The flags worth recording (and replaying on resume). Never secrets. */
function paramsRecord(req: PushRequest, plan: PushPlan): Record<string, unknown> {
  return {
    hfRepo: req.hfRepo,
    revision: req.revision,
    ...(req.layout ? {layout: req.layout} : {registry: req.registry.display, registryScheme: req.registry.scheme}),
    targetRepo: req.targetRepo,
    targetTag: req.targetTag,
    alsoTags: req.alsoTags,
    include: req.include,
    exclude: req.exclude,
    workers: req.workers,
    chunkMiB: req.chunkMiB,
    failFast: req.failFast,
    force: req.force ?? false,
    uploadMode: req.uploadMode,
    ...(req.fromImages?.length ? {fromImages: req.fromImages} : {}),
    ...(req.split ? {split: req.split} : {}),
    ...imageRecord(req, plan),
  }
}

/** The push's target, pinged: a registry client (its credentials found) or a layout directory. */
async function readyTarget(req: PushRequest, net: NetworkOptions): Promise<ImageTarget> {
  if (!req.layout) return readyRegistry(req, net)
  const target = new (await import('../oci/layout.js')).LayoutTarget(req.layout)
  await target.ping()
  return target
}

async function readyRegistry(req: PushRequest, net: NetworkOptions): Promise<RegistryClient> {
  const client = await registryClient(req.registry, req.targetRepo, net)
  await client.ping()
  return client
}
