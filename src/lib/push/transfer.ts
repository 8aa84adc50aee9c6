// One file, one layer: Hub body → tar framing → SHA-256 (layer and content)
// → registry, streamed PATCH by PATCH. Nothing is buffered beyond the socket
// buffers, so memory does not grow with the file size, the chunk size or the
// number of files; bytes the registry did not keep are read again from the
// Hub (Range) rather than held in memory.
import {ModelcarError} from '../errors.js'
import type {HubClient} from '../hf/client.js'
import {RangeIgnoredError} from '../hf/client.js'
import {defaultRetryPolicy, type RetryPolicy} from '../http/retry.js'
import type {RegistryClient} from '../oci/client.js'
import {UploadGoneError} from '../oci/client.js'
import {ChunkedUpload, RestartLayerError, type UploadCheckpoint} from '../oci/upload.js'
import {LayerReader} from './layer-reader.js'
import type {PlannedFile} from './plan.js'

export interface TransferContext {
  hub: HubClient
  hfRepo: string
  sha: string
  registry: RegistryClient
  chunkSize: number
  policy?: RetryPolicy
  signal?: AbortSignal
  /** Layer bytes read so far (for progress). */
  onProgress?: (layerBytes: number) => void
  onCheckpoint?: (cp: UploadCheckpoint) => void
  /** The upload session was given up: forget its checkpoint. */
  onRestart?: () => void
  onRetry?: (why: string) => void
  /** Continue this upload session (from a checkpoint of an earlier process). */
  resume?: UploadCheckpoint
  /** Bytes moved, for the run's accounting; called when each attempt ends. */
  onTransferStats?: (stats: TransferStats) => void
}

export interface LayerResult {
  digest: string
  size: number
  contentSha256: string
}

export interface TransferStats {
  /** Bytes sent to the registry in PATCH bodies. */
  uploaded: number
  /** Bytes read from the Hub again: to rebuild a resumed hash, or to re-send. */
  reread: number
}

const MAX_LAYER_RESTARTS = 3
/** After an interrupt, the PATCH in flight gets this long to land. */
const INTERRUPT_GRACE_MS = 2000

export async function transferLayer(file: PlannedFile, ctx: TransferContext): Promise<LayerResult> {
  let resume = ctx.resume
  for (let restart = 0; ; restart++) {
    try {
      return await transferOnce(file, ctx, resume)
    } catch (error) {
      const restartable = error instanceof RestartLayerError || error instanceof RangeIgnoredError
      if (!restartable || restart >= MAX_LAYER_RESTARTS || ctx.signal?.aborted) throw error
      ctx.onRetry?.(`restarting ${file.path} from byte 0: ${(error as Error).message}`)
      ctx.onRestart?.()
      resume = undefined
    }
  }
}

/**
 * Where to continue a checkpointed session: the registry's own count wins
 * (it may hold a chunk acknowledged after the checkpoint was written); less
 * than the checkpoint, or no session, means starting the layer over.
 */
async function reopen(file: PlannedFile, ctx: TransferContext, resume: UploadCheckpoint): Promise<{location: URL; offset: number}> {
  let status
  try {
    status = await ctx.registry.uploadStatus(resume.location)
  } catch (error) {
    if (error instanceof UploadGoneError) throw new RestartLayerError(`the saved upload session is gone (${error.message})`)
    throw error
  }
  if (status.size === undefined || status.size < resume.offset || status.size > file.layerSize) {
    throw new RestartLayerError(`the registry holds ${status.size ?? 'an unknown number of'} bytes of the saved session; the checkpoint says ${resume.offset}`)
  }
  ctx.onRetry?.(`resuming ${file.path} at byte ${status.size} of ${file.layerSize}`)
  return {location: status.location, offset: status.size}
}

async function transferOnce(file: PlannedFile, ctx: TransferContext, resume: UploadCheckpoint | undefined): Promise<LayerResult> {
  const policy = ctx.policy ?? defaultRetryPolicy
  const grace = graceSignal(ctx.signal, INTERRUPT_GRACE_MS)
  const opts = {policy, signal: ctx.signal, hardSignal: grace.signal, onAck: ctx.onCheckpoint}
  const held = resume ? await reopen(file, ctx, resume) : undefined
  const upload = held ? ChunkedUpload.resume(ctx.registry, held.location, held.offset, opts) : await ChunkedUpload.open(ctx.registry, opts)
  // node:crypto's hash state cannot be saved: for a resumed session the bytes
  // the registry holds are read again from the Hub to rebuild it (re-download,
  // never re-upload).
  const reader = new LayerReader(file, {hub: ctx.hub, hfRepo: ctx.hfRepo, sha: ctx.sha, policy, signal: grace.signal, onRetry: ctx.onRetry})
  const progress = {
    seek: (position: number) => reader.seek(position),
    read: async (max: number) => {
      const piece = await reader.read(max)
      ctx.onProgress?.(reader.position)
      return piece
    },
  }
  try {
    await upload.upload(progress, file.layerSize, ctx.chunkSize)
    await reader.seek(file.layerSize) // all bytes hashed, even if the registry had them all
    const {digest, contentSha256} = reader.digests()
    if (file.lfsSha256 && contentSha256 !== file.lfsSha256) {
      throw new ModelcarError(`${file.path}: content sha256 ${contentSha256} does not match the Hub's LFS sha256 ${file.lfsSha256}; the file was not pushed.`, {code: 'E_CONTENT_MISMATCH'})
    }
    await upload.commit(digest, file.layerSize)
    return {digest, size: file.layerSize, contentSha256}
  } catch (error) {
    // An interrupted session keeps its checkpoint for the next run; any other
    // failure gives it up.
    if (!ctx.signal?.aborted) await upload.cancel()
    throw error
  } finally {
    grace.dispose()
    reader.close()
    // Catching up a resumed session reads the held prefix a second time.
    ctx.onTransferStats?.({uploaded: upload.bytesSent, reread: reader.reread + Math.min(held?.offset ?? 0, reader.hashed)})
  }
}

/** A signal that fires `ms` after `signal` does: time for the work in flight to land. */
function graceSignal(signal: AbortSignal | undefined, ms: number): {signal: AbortSignal; dispose: () => void} {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const onAbort = () => {
    timer = setTimeout(() => controller.abort(signal?.reason), ms)
    timer.unref()
  }
  if (signal?.aborted) onAbort()
  else signal?.addEventListener('abort', onAbort, {once: true})
  return {
    signal: controller.signal,
    dispose: () => {
      signal?.removeEventListener('abort', onAbort)
      if (timer) clearTimeout(timer)
    },
  }
}
