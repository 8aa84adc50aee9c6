// One file, one layer: Hub body → tar framing → SHA-256 (layer and content)
// → chunked upload, in two reusable chunk buffers (one filling, one in
// flight), so memory stays at about two chunks whatever the file size.
import {createHash} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'
import {ModelcarError} from '../errors.js'
import type {HubClient} from '../hf/client.js'
import {RangeIgnoredError} from '../hf/client.js'
import {TransportError} from '../http/raw.js'
import {backoffDelay, defaultRetryPolicy, RetryableError, type RetryPolicy} from '../http/retry.js'
import {layerHeader, layerTrailer} from '../layer/tar.js'
import type {RegistryClient} from '../oci/client.js'
import {UploadGoneError} from '../oci/client.js'
import {ChunkedUpload, RestartLayerError, type UploadCheckpoint} from '../oci/upload.js'
import type {ChunkBuffers} from './buffers.js'
import type {PlannedFile} from './plan.js'

export interface TransferContext {
  hub: HubClient
  hfRepo: string
  sha: string
  registry: RegistryClient
  /** Where chunk buffers come from (and go back to). */
  buffers: ChunkBuffers
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
  /** Bytes moved, for the run's accounting; called when the transfer ends. */
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
  /** Bytes read from the Hub only to rebuild the hash state of a resumed upload. */
  reread: number
}

const MAX_LAYER_RESTARTS = 3

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
async function reopen(file: PlannedFile, ctx: TransferContext, policy: RetryPolicy, resume: UploadCheckpoint): Promise<ChunkedUpload> {
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
  return ChunkedUpload.resume(ctx.registry, status.location, status.size, {policy, signal: ctx.signal, onAck: ctx.onCheckpoint})
}

async function transferOnce(file: PlannedFile, ctx: TransferContext, resume: UploadCheckpoint | undefined): Promise<LayerResult> {
  const policy = ctx.policy ?? defaultRetryPolicy
  const upload = resume
    ? await reopen(file, ctx, policy, resume)
    : await ChunkedUpload.open(ctx.registry, {policy, signal: ctx.signal, onAck: ctx.onCheckpoint})
  // The bytes the registry already holds are read again from the Hub only to
  // rebuild the hash state (node:crypto's cannot be saved): re-download, never
  // re-upload.
  const sink = new ChunkSink(upload, ctx.buffers, upload.offset)
  const report = () => ctx.onTransferStats?.({uploaded: upload.bytesSent, reread: Math.min(sink.written, sink.skip)})
  try {
    const layerHash = createHash('sha256')
    const contentHash = createHash('sha256')
    const emit = async (bytes: Buffer) => {
      layerHash.update(bytes)
      await sink.write(bytes)
      ctx.onProgress?.(sink.written)
    }
    await emit(layerHeader(file.path, file.size))
    await streamContent(file, ctx, policy, async (piece) => {
      contentHash.update(piece)
      await emit(piece)
    })
    await emit(layerTrailer(file.size))
    await sink.flush()
    const contentSha256 = contentHash.digest('hex')
    if (file.lfsSha256 && contentSha256 !== file.lfsSha256) {
      throw new ModelcarError(`${file.path}: content sha256 ${contentSha256} does not match the Hub's LFS sha256 ${file.lfsSha256}; the file was not pushed.`, {code: 'E_CONTENT_MISMATCH'})
    }
    const digest = `sha256:${layerHash.digest('hex')}`
    if (sink.written !== file.layerSize) throw new ModelcarError(`${file.path}: layer is ${sink.written} bytes, expected ${file.layerSize}.`, {code: 'E_LAYER_SIZE'})
    await upload.commit(digest, file.layerSize)
    return {digest, size: file.layerSize, contentSha256}
  } catch (error) {
    // Let the chunk in flight land first: after an interrupt its checkpoint
    // is what the next run resumes from; otherwise the session is given up.
    await sink.settle()
    if (!ctx.signal?.aborted) await upload.cancel()
    throw error
  } finally {
    sink.release()
    report()
  }
}

/**
 * Read the file's content from the Hub, continuing a cut or stalled body with
 * Range from the byte it stopped at. `consume` sees every byte exactly once.
 */
async function streamContent(file: PlannedFile, ctx: TransferContext, policy: RetryPolicy, consume: (piece: Buffer) => Promise<void>): Promise<void> {
  let done = 0
  let failures = 0
  while (done < file.size) {
    const before = done
    try {
      const res = await ctx.hub.openFile(ctx.hfRepo, ctx.sha, file, done, ctx.signal)
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const take = Math.min(chunk.length, file.size - done)
        if (take > 0) {
          await consume(take === chunk.length ? chunk : chunk.subarray(0, take))
          done += take
        }
        if (take < chunk.length) {
          res.body.destroy()
          throw new RetryableError(`the Hub sent more bytes of ${file.path} than its size (${file.size})`)
        }
      }
      if (done < file.size) throw new RetryableError(`the Hub's body for ${file.path} ended at byte ${done} of ${file.size}`)
    } catch (error) {
      if (error instanceof RangeIgnoredError || ctx.signal?.aborted) throw error
      const retryable = error instanceof TransportError || error instanceof RetryableError || isStreamError(error)
      failures = done > before ? 1 : failures + 1
      if (!retryable || failures > policy.maxRetries) throw error
      ctx.onRetry?.(`${file.path}: ${(error as Error).message}; continuing from byte ${done}`)
      await sleep(backoffDelay(failures - 1, policy, error instanceof RetryableError ? error.retryAfterMs : undefined), undefined, {signal: ctx.signal})
    }
  }
}

function isStreamError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ETIMEDOUT' || (error as Error)?.message === 'aborted'
}

/**
 * Two chunk buffers: fill one while the other is in flight. The first `skip`
 * bytes are already in the registry: they are counted, not sent.
 */
class ChunkSink {
  written = 0
  private readonly buffers: Buffer[] = []
  private current = 0
  private fill = 0
  private chunkStart: number
  private inFlight: Promise<void> | undefined

  constructor(private readonly upload: ChunkedUpload, private readonly pool: ChunkBuffers, readonly skip = 0) {
    this.chunkStart = skip
  }

  /** Give the buffers back; only once nothing is in flight. */
  release(): void {
    if (this.inFlight) return // a failed PATCH may still hold one: let GC have them
    for (const b of this.buffers.splice(0)) this.pool.give(b)
  }

  private buffer(): Buffer {
    return (this.buffers[this.current] ??= this.pool.take())
  }

  async write(bytes: Buffer): Promise<void> {
    let offset = 0
    if (this.written < this.skip) {
      offset = Math.min(bytes.length, this.skip - this.written)
      this.written += offset
    }
    while (offset < bytes.length) {
      const buffer = this.buffer()
      const n = bytes.copy(buffer, this.fill, offset)
      offset += n
      this.fill += n
      this.written += n
      if (this.fill === buffer.length) await this.ship()
    }
  }

  /** Wait for the chunk in flight, whatever its outcome. */
  async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined)
    this.inFlight = undefined
  }

  async flush(): Promise<void> {
    if (this.fill > 0) await this.ship()
    const last = this.inFlight
    this.inFlight = undefined
    await last
  }

  private async ship(): Promise<void> {
    const previous = this.inFlight // the other buffer must be free before we refill it
    this.inFlight = undefined
    await previous
    const chunk = this.buffer().subarray(0, this.fill)
    const start = this.chunkStart
    this.inFlight = this.upload.send(chunk, start)
    // Surface a failure at the next await, not as an unhandled rejection.
    this.inFlight.catch(() => undefined)
    this.chunkStart += this.fill
    this.current ^= 1
    this.fill = 0
  }
}
