// The push service behind `modelcar push` (and resume): builds the Hub and
// registry clients from flags and the environment, records the run, plans,
// executes, and closes the run record whatever happens.
import {ModelcarError} from '../errors.js'
import {HubClient} from '../hf/client.js'
import {findHubToken, hubEndpoint} from '../hf/token.js'
import {defaultRetryPolicy, type RetryPolicy} from '../http/retry.js'
import {RegistryAuth} from '../oci/auth.js'
import {RegistryClient} from '../oci/client.js'
import {findRegistryCredential} from '../oci/credentials.js'
import {BlobStore} from '../state/blobs.js'
import {openStateDb} from '../state/db.js'
import {RunStore} from '../state/runs.js'
import type {Progress} from '../ui/progress.js'
import {planPush, type PushParams, type PushPlan} from './plan.js'
import {errorText, executePush, type PushResult} from './run.js'

export interface PushRequest extends PushParams {
  dryRun: boolean
  stateDb: string
  maxRetries?: number
}

export interface PushOutcome {
  plan: PushPlan
  result?: PushResult
}

export async function push(req: PushRequest, ui: {progress?: Progress; signal?: AbortSignal; env?: NodeJS.ProcessEnv} = {}): Promise<PushOutcome> {
  const env = ui.env ?? process.env
  const policy: RetryPolicy = {...defaultRetryPolicy, maxRetries: req.maxRetries ?? defaultRetryPolicy.maxRetries}
  const endpoint = hubEndpoint(env)
  const hub = new HubClient(endpoint, findHubToken(env), {maxRetries: policy.maxRetries})

  if (req.dryRun) return {plan: await planPush(req, hub)}

  const db = openStateDb(req.stateDb)
  const runs = new RunStore(db)
  const blobs = new BlobStore(db)
  const runId = runs.create({
    hfEndpoint: endpoint.href, hfRepo: req.hfRepo, hfRevision: req.revision, registry: req.registry.display,
    targetRepo: req.targetRepo, targetTag: req.targetTag, params: paramsRecord(req),
  })
  try {
    const plan = await planPush(req, hub)
    ui.progress?.expect(plan.totalLayerBytes)
    const credential = await findRegistryCredential(req.registry.host, {repository: req.targetRepo, env})
    const auth = new RegistryAuth(req.registry, credential)
    const registry = new RegistryClient(req.registry, req.targetRepo, auth, {
      retry: policy,
      onRetry: (what, error, n) => ui.progress?.events.retry?.(`${what} (attempt ${n + 1}): ${errorText(error)}`),
    })
    const result = await executePush(plan, {
      hub, registry, runs, blobs, policy, signal: ui.signal, registryKey: req.registry.baseUrl,
      scheduler: ui.progress?.scheduler, events: ui.progress?.events,
    }, runId)
    runs.finish(runId, 'done', {manifestDigest: result.manifestDigest})
    return {plan, result}
  } catch (error) {
    const interrupted = ui.signal?.aborted
    runs.finish(runId, interrupted ? 'interrupted' : 'failed', {error: errorText(error)})
    if (error instanceof ModelcarError || !(error instanceof Error)) throw error
    throw error
  } finally {
    db.close()
  }
}

/** The flags worth recording (and replaying on resume). Never secrets. */
function paramsRecord(req: PushRequest): Record<string, unknown> {
  return {
    hfRepo: req.hfRepo, revision: req.revision, registry: req.registry.display, registryScheme: req.registry.scheme,
    targetRepo: req.targetRepo, targetTag: req.targetTag, alsoTags: req.alsoTags, include: req.include, exclude: req.exclude,
    workers: req.workers, chunkMiB: req.chunkMiB, failFast: req.failFast, force: req.force ?? false,
  }
}
