// One blob upload session (BlobUpload), in chunked or stream mode. Chunked: PATCH by PATCH with Content-Range, and
// after any failed PATCH a resync with GET <location> before another byte is
// sent (distribution ignores Content-Range and would append a re-sent chunk:
// silent corruption); the bytes it did not keep are read again from the
// source. Stream: the whole layer in one PATCH. A registry that refuses the
// mode says which one to fall back to (ModeRefusedError).
import {performance} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'
import {ModelcarError} from '../errors.js'
import {backoffDelay, defaultRetryPolicy, isRetryable, RetryableError, type RetryPolicy} from '../http/retry.js'
import {RegistryRefusedError, UploadGoneError} from './client.js'
import type {ImageTarget} from './target.js'
import type {UploadMode} from './profiles.js'

/** The session cannot continue: start the layer over on a new one. */
export class RestartLayerError extends ModelcarError {
  constructor(message: string) {
    super(message, {code: 'E_UPLOAD_RESTART'})
    this.name = 'RestartLayerError'
  }
}

/** The registry no longer holds the session (404, BLOB_UPLOAD_UNKNOWN or BLOB_UPLOAD_INVALID). */
export class SessionGoneError extends RestartLayerError {
  constructor(message: string) {
    super(message)
    this.name = 'SessionGoneError'
  }
}

/**
 * A PATCH was cut mid-body and the registry then cancelled the session (CNCF
 * distribution does: the bytes it holds no longer match the signed offset).
 * On such a registry every PATCH is a chance to lose the whole layer.
 */
export class CutCancelsSessionError extends RestartLayerError {
  constructor(message: string) {
    super(message)
    this.name = 'CutCancelsSessionError'
  }
}

/** The registry refuses this upload mode: restart the layer in `next`. */
export class ModeRefusedError extends ModelcarError {
  constructor(
    readonly next: UploadMode,
    message: string,
  ) {
    super(message, {code: 'E_UPLOAD_MODE_REFUSED'})
    this.name = 'ModeRefusedError'
  }
}

/** The source of the bytes failed (not the registry): do not resync, give up. */
export class SourceError extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause))
    this.name = 'SourceError'
  }
}

/** How big each PATCH is; told how long each one took. */
export interface ChunkSizes {
  size(): number
  measured(bytes: number, ms: number): void
}

/** What the registry has acknowledged: the session's location and how many bytes it holds. */
export interface UploadAck {
  location: URL
  offset: number
}

/** Layer bytes by position: the upload goes back when the registry kept less. */
export interface ByteSource {
  seek(position: number): Promise<void>
  read(max: number): Promise<Buffer>
  /** A piece read() gave is sent: nothing reads it any more. */
  giveBack?(piece: Buffer): void
}

export interface UploadOptions {
  policy?: RetryPolicy
  /** Checked between PATCHes: an interrupt lets the PATCH in flight finish. */
  signal?: AbortSignal
  /** Aborts a PATCH in flight (a grace period after `signal`). */
  hardSignal?: AbortSignal
  onAck?: (ack: UploadAck) => void
}

export class BlobUpload {
  /** Bytes put on the wire in request bodies, re-sends included. */
  bytesSent = 0
  private readonly policy: RetryPolicy

  private constructor(
    private readonly client: ImageTarget,
    public location: URL,
    public offset: number,
    private readonly opts: UploadOptions,
    /** OCI-Chunk-Min-Length from the registry, when it sent one. */
    readonly minChunk?: number,
  ) {
    this.policy = opts.policy ?? defaultRetryPolicy
  }

  static async open(client: ImageTarget, opts: UploadOptions = {}): Promise<BlobUpload> {
    const {location, minChunk} = await client.startUpload()
    // Saved before the first byte: where a registry keeps sessions by id, a
    // first PATCH cut by a crash is resumed, not sent again.
    opts.onAck?.({location, offset: 0})
    return new BlobUpload(client, location, 0, opts, minChunk)
  }

  /** Continue a session the registry still holds `offset` bytes of. */
  static resume(client: ImageTarget, location: URL, offset: number, opts: UploadOptions = {}): BlobUpload {
    return new BlobUpload(client, location, offset, opts)
  }

  /** Send bytes [offset, size) of `source` in PATCHes of at most `chunks.size()` each, telling it how long each took. */
  async upload(source: ByteSource, size: number, chunks: ChunkSizes): Promise<void> {
    let failures = 0
    let lastFailure: {start: number; status?: number} | undefined
    while (this.offset < size) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason
      const start = this.offset
      const length = Math.min(chunks.size(), size - start)
      try {
        const began = performance.now()
        await this.patch(source, start, length, true)
        chunks.measured(length, performance.now() - began)
        failures = 0
        lastFailure = undefined
      } catch (error) {
        if (error instanceof SourceError) throw error.cause
        if (error instanceof UploadGoneError) throw new RestartLayerError(error.message)
        const status = statusOf(error)
        if (status === 405) throw new ModeRefusedError('monolithic', `the registry does not accept PATCH (405)`)
        if (status === 413) throw new ModeRefusedError('stream', `the registry refused a ${length}-byte chunk as too large (413)`)
        // ECR and others refuse chunks outside their part size (400 SIZE_INVALID): one PATCH then.
        if (status === 400 && (error as RegistryRefusedError).errorCode === 'SIZE_INVALID')
          throw new ModeRefusedError('stream', `the registry refused a ${length}-byte chunk size (400 SIZE_INVALID)`)
        const refusedRange = error instanceof RegistryRefusedError && error.status === 416
        if (!(isRetryable(error) || refusedRange) || ++failures > this.policy.maxRetries || this.opts.hardSignal?.aborted) throw error
        await sleep(backoffDelay(failures - 1, this.policy, error instanceof RetryableError ? error.retryAfterMs : undefined), undefined, {
          signal: this.opts.hardSignal,
        })
        const kept = await this.resync(start, start + length).catch((resyncError) => {
          // No answer to the PATCH, then no session: the cut itself cancelled it.
          if (!(resyncError instanceof SessionGoneError) || status !== undefined) throw resyncError
          throw new CutCancelsSessionError(`the registry cancelled the upload session after a PATCH was cut (${resyncError.message})`)
        })
        // The registry refused a chunk it should have taken: a 416 although
        // our range was right means "too big"; the same refusal twice at the
        // same offset of a multi-PATCH session means chunk sequences break
        // there (Artifactory HA). Either way: one PATCH for the whole layer.
        if (kept === start && status !== undefined) {
          if (refusedRange) throw new ModeRefusedError('stream', `the registry refused a ${length}-byte chunk at a correct offset (416)`)
          // Rate limits and 503s are load, not a refusal: only a bare 500/502 counts.
          const refusal = (status === 500 || status === 502) && !(error instanceof RetryableError && error.retryAfterMs !== undefined)
          if (refusal && start > 0 && lastFailure?.start === start && lastFailure.status === status) {
            throw new ModeRefusedError('stream', `the registry refused the chunk at ${start} twice (${status})`)
          }
        }
        lastFailure = {start, status}
      }
    }
  }

  /** The whole layer in one PATCH without Content-Range. A failure restarts the layer. */
  async stream(source: ByteSource, size: number): Promise<void> {
    try {
      await this.patch(source, 0, size, false)
    } catch (error) {
      if (error instanceof SourceError) throw error.cause
      const status = statusOf(error)
      if (status === 405 || status === 413) throw new ModeRefusedError('monolithic', `the registry refused a streamed PATCH (${status})`)
      if (isRetryable(error) || error instanceof UploadGoneError)
        throw new RestartLayerError(`streamed PATCH failed: ${(error as Error).message}`)
      throw error
    }
  }

  async commit(digest: string, size: number): Promise<void> {
    if (this.offset !== size) throw new RetryableError(`upload holds ${this.offset} of ${size} bytes at commit`)
    await this.client.commitUpload(this.location, digest, size)
  }

  async cancel(): Promise<void> {
    await this.client.cancelUpload(this.location).catch(() => undefined)
  }

  private async patch(source: ByteSource, start: number, length: number, contentRange: boolean): Promise<void> {
    await source.seek(start).catch((error) => Promise.reject(new SourceError(error)))
    this.location = await this.client.patchStream(this.location, start, length, (max) => this.pull(source, max), {
      signal: this.opts.hardSignal,
      contentRange,
      giveBack: source.giveBack && ((piece) => source.giveBack!(piece)),
    })
    this.ack(start + length)
  }

  private async pull(source: ByteSource, max: number): Promise<Buffer> {
    try {
      const piece = await source.read(max)
      this.bytesSent += piece.length
      return piece
    } catch (error) {
      throw new SourceError(error)
    }
  }

  /**
   * Ask the registry how much of [start, end) it kept and continue from
   * there. Some registries (ECR) stop advancing Range: trust a report only
   * within the PATCH just sent, else start the layer over.
   */
  private async resync(start: number, end: number): Promise<number> {
    const held = await heldBytes(this.client, this.location, start, end, 'the last PATCH')
    this.location = held.location
    if (held.size > this.offset) this.ack(held.size)
    return held.size
  }

  private ack(offset: number): void {
    this.offset = offset
    this.opts.onAck?.({location: this.location, offset})
  }
}

/**
 * How many bytes a session holds, when that is within [min, max]. A session
 * that is gone, silent about its size, or outside the bounds (it lost bytes,
 * or holds bytes we cannot account for) means the layer starts over.
 */
export async function heldBytes(
  client: ImageTarget,
  location: URL,
  min: number,
  max: number,
  what: string,
): Promise<{location: URL; size: number}> {
  let status
  try {
    status = await client.uploadStatus(location)
  } catch (error) {
    if (error instanceof UploadGoneError) throw new SessionGoneError(error.message)
    throw error
  }
  if (status.size === undefined) throw new RestartLayerError('the registry does not report how much of the upload it holds')
  if (status.size < min || status.size > max) {
    throw new RestartLayerError(`the registry holds ${status.size} bytes of the upload; ${what} covered ${min}-${max}`)
  }
  return {location: status.location, size: status.size}
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof RegistryRefusedError) return error.status
  if (error instanceof RetryableError) return error.status
  return undefined
}
