// The push service behind `modelcar push` and `modelcar resume`: builds the
// Hub and registry clients from flags and the environment, finds or records
// the run (re-running the same push continues it), takes the run's lock,
// executes, and closes the run record whatever happens.
import {hubClient, registryClient, retryPolicy} from '../clients.js'
import {EXIT, ModelcarError, UsageError} from '../errors.js'
import {parseRegistry} from '../oci/reference.js'
import {profileFor, type UploadModeFlag} from '../oci/profiles.js'
import {BlobStore} from '../state/blobs.js'
import {ModeStore} from '../state/modes.js'
import {openStateDb} from '../state/db.js'
import {lockRun} from '../state/lock.js'
import type {RegistryClient} from '../oci/client.js'
import {RunStore, type RunRow} from '../state/runs.js'
import type {Progress} from '../ui/progress.js'
import {planPush, type PushParams, type PushPlan} from './plan.js'
import {errorText, executePush, type PushResult} from './run.js'
import {UploadModes} from './transfer.js'

export interface PushRequest extends PushParams {
  dryRun: boolean
  stateDb: string
  maxRetries?: number
  /** Seconds without a byte moving before a request is retried. */
  stallTimeoutS?: number
  /** Continue this run (modelcar resume) rather than look one up. */
  runId?: number
}

export interface PushOutcome {
  plan: PushPlan
  result?: PushResult
  /** The run this push continued, if it was not a fresh one. */
  resumedRun?: number
}

export interface PushUi {
  progress?: Progress
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
}

export async function push(req: PushRequest, ui: PushUi = {}): Promise<PushOutcome> {
  const net = {maxRetries: req.maxRetries, stallTimeoutS: req.stallTimeoutS, env: ui.env, onRetry: (m: string) => ui.progress?.events.retry?.(m)}
  const policy = retryPolicy(net)
  const hub = hubClient(net)
  const plan = await planPush(req, hub)
  if (req.dryRun) return {plan}
  for (const warning of plan.warnings) ui.progress?.log(`warning: ${warning}`)

  const db = openStateDb(req.stateDb)
  try {
    const runs = new RunStore(db)
    const key = pushKey(req, plan)
    const registry = await registryClient(req.registry, req.targetRepo, net)
    if (req.force) await abandon(runs, runs.findResumable(key), registry)
    const previous = req.runId ?? (req.force ? undefined : runs.findResumable(key)?.id)
    const runId = previous ?? runs.create({
      pushKey: key, hfSha: plan.sha, hfEndpoint: hub.endpoint.href, hfRepo: req.hfRepo, hfRevision: req.revision,
      registry: req.registry.display, targetRepo: req.targetRepo, targetTag: plan.tag, params: paramsRecord(req),
    })
    const release = lockRun(runs, runId)
    if (previous) {
      runs.restart(runId)
      ui.progress?.log(`Resuming run ${runId}`)
    }
    try {
      ui.progress?.expect(plan.totalLayerBytes)
      const modes = uploadModes(req, new ModeStore(db), (message) => ui.progress?.log(message))
      const result = await executePush(plan, {
        hub, registry, runs, blobs: new BlobStore(db), policy, signal: ui.signal, registryKey: req.registry.baseUrl, modes,
        scheduler: ui.progress?.scheduler, events: ui.progress?.events,
      }, runId)
      runs.finish(runId, 'done', {manifestDigest: result.manifestDigest})
      return {plan, result, resumedRun: previous}
    } catch (error) {
      runs.finish(runId, ui.signal?.aborted ? 'interrupted' : 'failed', {error: errorText(error)})
      throw error
    } finally {
      release()
    }
  } finally {
    db.close()
  }
}

/**
 * --force replaces an unfinished run of the same push: its upload sessions
 * are cancelled (DELETE, best effort) and it is closed, unless another
 * process still drives it.
 */
async function abandon(runs: RunStore, run: RunRow | undefined, registry: RegistryClient): Promise<void> {
  if (!run) return
  const release = lockRun(runs, run.id)
  try {
    for (const f of runs.files(run.id)) {
      if (f.upload_location) await registry.cancelUpload(new URL(f.upload_location)).catch(() => undefined)
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
function uploadModes(req: PushParams, store: ModeStore, log: (message: string) => void): UploadModes {
  const profile = profileFor(req.registry.host)
  if (req.uploadMode !== 'auto') return new UploadModes(req.uploadMode, profile, false)
  const learnt = store.get(req.registry.baseUrl)
  return new UploadModes(learnt?.mode ?? profile.mode, profile, true, (mode, why) => {
    store.set(req.registry.baseUrl, mode, why)
    log(`${req.registry.display} refused the previous upload mode (${why}): using ${mode} uploads from now on`)
  })
}

/** The recorded push of a run, pinned to its commit and tag, for `modelcar resume`. */
export function resumeRequest(stateDb: string, runId: number | undefined): PushRequest {
  const db = openStateDb(stateDb)
  try {
    const runs = new RunStore(db)
    const run = runId === undefined ? runs.latestUnfinished() : runs.get(runId)
    if (!run) {
      throw new UsageError(runId === undefined ? 'There is no unfinished push to resume: see `modelcar list`.' : `Run ${runId} does not exist: see \`modelcar list\`.`, 'E_NO_RUN')
    }
    if (run.status === 'done') {
      throw new ModelcarError(`Run ${run.id} already finished (${run.manifest_digest}): nothing to resume.`, {code: 'E_RUN_DONE', exitCode: EXIT.usage})
    }
    return requestFromRun(run, stateDb)
  } finally {
    db.close()
  }
}

function requestFromRun(run: RunRow, stateDb: string): PushRequest {
  const p = JSON.parse(run.params) as Record<string, unknown>
  const registryInput = p.registryScheme ? `${p.registryScheme}://${p.registry}` : String(p.registry)
  return {
    hfRepo: run.hf_repo,
    // Pinned: a branch that moved since must not change what this run pushes.
    revision: run.hf_sha ?? run.hf_revision,
    registry: parseRegistry(registryInput),
    targetRepo: run.target_repo,
    targetTag: run.target_tag ?? undefined,
    alsoTags: (p.alsoTags as string[]) ?? [],
    include: (p.include as string[]) ?? [],
    exclude: (p.exclude as string[]) ?? [],
    workers: Number(p.workers ?? 4),
    uploadMode: (p.uploadMode as UploadModeFlag) ?? 'auto',
    chunkMiB: Number(p.chunkMiB ?? 8),
    failFast: p.failFast !== false,
    force: false,
    dryRun: false,
    stateDb,
    runId: run.id,
  }
}

/** What makes two pushes "the same": same bytes to the same place. */
function pushKey(req: PushParams, plan: PushPlan): string {
  return JSON.stringify([req.hfRepo, plan.sha, req.registry.baseUrl, req.targetRepo, plan.tag, req.include, req.exclude])
}

/** The flags worth recording (and replaying on resume). Never secrets. */
function paramsRecord(req: PushRequest): Record<string, unknown> {
  return {
    hfRepo: req.hfRepo, revision: req.revision, registry: req.registry.display, registryScheme: req.registry.scheme,
    targetRepo: req.targetRepo, targetTag: req.targetTag, alsoTags: req.alsoTags, include: req.include, exclude: req.exclude,
    workers: req.workers, chunkMiB: req.chunkMiB, failFast: req.failFast, force: req.force ?? false, uploadMode: req.uploadMode,
  }
}
