// One blob upload session: chunks PATCHed in order, and after any failed PATCH
// a resync with GET <location> before another byte is sent (distribution
// ignores Content-Range and would append a re-sent chunk: silent corruption).
import {setTimeout as sleep} from 'node:timers/promises'
import {backoffDelay, defaultRetryPolicy, RetryableError, type RetryPolicy} from '../http/retry.js'
import {isRetryableError, RegistryRefusedError, UploadGoneError, type RegistryClient} from './client.js'

/** The session cannot continue from the chunk in hand: start the layer over. */
export class RestartLayerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RestartLayerError'
  }
}

export interface UploadCheckpoint {
  location: URL
  /** Bytes the registry has acknowledged. */
  offset: number
}

export class ChunkedUpload {
  /** Bytes put on the wire in PATCH bodies, re-sends included. */
  bytesSent = 0

  private constructor(
    private readonly client: RegistryClient,
    public location: URL,
    public offset: number,
    private readonly opts: {policy: RetryPolicy; signal?: AbortSignal; onAck?: (cp: UploadCheckpoint) => void},
  ) {}

  static async open(client: RegistryClient, opts: {policy?: RetryPolicy; signal?: AbortSignal; onAck?: (cp: UploadCheckpoint) => void} = {}): Promise<ChunkedUpload> {
    const location = await client.startUpload()
    return new ChunkedUpload(client, location, 0, {policy: opts.policy ?? defaultRetryPolicy, ...opts})
  }

  /** Continue a session the registry still holds `offset` bytes of. */
  static resume(client: RegistryClient, location: URL, offset: number, opts: {policy?: RetryPolicy; signal?: AbortSignal; onAck?: (cp: UploadCheckpoint) => void} = {}): ChunkedUpload {
    return new ChunkedUpload(client, location, offset, {policy: opts.policy ?? defaultRetryPolicy, ...opts})
  }

  /** Send `chunk`, which starts at layer offset `start` (= this.offset). */
  async send(chunk: Buffer, start: number): Promise<void> {
    let sent = 0
    for (let attempt = 0; ; attempt++) {
      try {
        // No abort signal here: a PATCH cut halfway leaves distribution with
        // bytes we cannot account for, so an interrupt lets it finish.
        this.bytesSent += chunk.length - sent
        this.location = await this.client.patchChunk(this.location, chunk.subarray(sent), start + sent)
        return this.ack(start + chunk.length)
      } catch (error) {
        if (error instanceof UploadGoneError) throw new RestartLayerError(error.message)
        const refusedRange = error instanceof RegistryRefusedError && error.status === 416
        if (!(isRetryableError(error) || refusedRange) || attempt >= this.opts.policy.maxRetries || this.opts.signal?.aborted) throw error
        await sleep(backoffDelay(attempt, this.opts.policy, error instanceof RetryableError ? error.retryAfterMs : undefined), undefined, {signal: this.opts.signal})
        const status = await this.client.uploadStatus(this.location).catch((statusError) => {
          if (statusError instanceof UploadGoneError) throw new RestartLayerError(statusError.message)
          throw statusError
        })
        this.location = status.location
        if (status.size === undefined) throw new RestartLayerError('the registry does not report how much of the upload it holds')
        if (status.size < start || status.size > start + chunk.length) {
          throw new RestartLayerError(`the registry holds ${status.size} bytes of the upload; the chunk in hand covers ${start}-${start + chunk.length}`)
        }
        sent = status.size - start
        if (sent === chunk.length) return this.ack(start + chunk.length)
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

  private ack(offset: number): void {
    this.offset = offset
    this.opts.onAck?.({location: this.location, offset})
  }
}
