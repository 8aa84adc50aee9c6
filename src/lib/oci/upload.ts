// One blob upload session, PATCH by PATCH. After any failed PATCH the session
// is resynced with GET <location> before another byte is sent (distribution
// ignores Content-Range and would append a re-sent chunk: silent corruption),
// and the bytes it did not keep are read again from the source.
import {setTimeout as sleep} from 'node:timers/promises'
import {backoffDelay, defaultRetryPolicy, RetryableError, type RetryPolicy} from '../http/retry.js'
import {isRetryableError, RegistryRefusedError, UploadGoneError, type RegistryClient} from './client.js'

/** The session cannot continue: start the layer over on a new one. */
export class RestartLayerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RestartLayerError'
  }
}

/** The source of the bytes failed (not the registry): do not resync, give up. */
export class SourceError extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause))
    this.name = 'SourceError'
  }
}

export interface UploadCheckpoint {
  location: URL
  /** Bytes the registry has acknowledged. */
  offset: number
}

/** Layer bytes by position: the upload goes back when the registry kept less. */
export interface ByteSource {
  seek(position: number): Promise<void>
  read(max: number): Promise<Buffer>
}

interface UploadOptions {
  policy?: RetryPolicy
  /** Checked between PATCHes: an interrupt lets the PATCH in flight finish. */
  signal?: AbortSignal
  /** Aborts a PATCH in flight (a grace period after `signal`). */
  hardSignal?: AbortSignal
  onAck?: (cp: UploadCheckpoint) => void
}

export class ChunkedUpload {
  /** Bytes put on the wire in PATCH bodies, re-sends included. */
  bytesSent = 0
  private readonly policy: RetryPolicy

  private constructor(
    private readonly client: RegistryClient,
    public location: URL,
    public offset: number,
    private readonly opts: UploadOptions,
  ) {
    this.policy = opts.policy ?? defaultRetryPolicy
  }

  static async open(client: RegistryClient, opts: UploadOptions = {}): Promise<ChunkedUpload> {
    return new ChunkedUpload(client, await client.startUpload(), 0, opts)
  }

  /** Continue a session the registry still holds `offset` bytes of. */
  static resume(client: RegistryClient, location: URL, offset: number, opts: UploadOptions = {}): ChunkedUpload {
    return new ChunkedUpload(client, location, offset, opts)
  }

  /** Send bytes [offset, size) of `source` in PATCHes of at most `chunkSize`. */
  async upload(source: ByteSource, size: number, chunkSize: number): Promise<void> {
    let failures = 0
    while (this.offset < size) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason
      const start = this.offset
      const length = Math.min(chunkSize, size - start)
      try {
        await source.seek(start).catch((error) => Promise.reject(new SourceError(error)))
        this.location = await this.client.patchStream(this.location, start, length, (max) => this.pull(source, max), this.opts.hardSignal)
        this.ack(start + length)
        failures = 0
      } catch (error) {
        if (error instanceof SourceError) throw error.cause
        if (error instanceof UploadGoneError) throw new RestartLayerError(error.message)
        const refusedRange = error instanceof RegistryRefusedError && error.status === 416
        if (!(isRetryableError(error) || refusedRange) || ++failures > this.policy.maxRetries || this.opts.hardSignal?.aborted) throw error
        await sleep(backoffDelay(failures - 1, this.policy, error instanceof RetryableError ? error.retryAfterMs : undefined), undefined, {signal: this.opts.hardSignal})
        await this.resync(start, start + length)
      }
    }
  }

  async commit(digest: string, size: number): Promise<void> {
    if (this.offset !== size) throw new RetryableError(`upload holds ${this.offset} of ${size} bytes at commit`)
    await this.client.commitUpload(this.location, digest, size)
  }

  async cancel(): Promise<void> {
    await this.client.cancelUpload(this.location).catch(() => undefined)
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

  /** Ask the registry how much of [start, end) it kept; continue from there. */
  private async resync(start: number, end: number): Promise<void> {
    let status
    try {
      status = await this.client.uploadStatus(this.location)
    } catch (error) {
      if (error instanceof UploadGoneError) throw new RestartLayerError(error.message)
      throw error
    }
    this.location = status.location
    if (status.size === undefined) throw new RestartLayerError('the registry does not report how much of the upload it holds')
    if (status.size < start || status.size > end) {
      throw new RestartLayerError(`the registry holds ${status.size} bytes of the upload; the last PATCH covered ${start}-${end}`)
    }
    if (status.size > this.offset) this.ack(status.size)
  }

  private ack(offset: number): void {
    this.offset = offset
    this.opts.onAck?.({location: this.location, offset})
  }
}
