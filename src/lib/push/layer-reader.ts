// A layer's bytes, readable in order from any position: the tar header and
// trailer come from memory, the content from the Hub with Range. Every byte is
// hashed (layer and content SHA-256) the first time it is read, so the reader
// can go back (to re-send what the registry did not keep) or start from 0 to
// rebuild the hash of a resumed upload, without ever hashing a byte twice.
import {createHash, type Hash} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'
import {RangeIgnoredError, type HubClient} from '../hf/client.js'
import {TransportError, type RawResponse} from '../http/raw.js'
import {backoffDelay, RetryableError, type RetryPolicy} from '../http/retry.js'
import {layerHeader, layerTrailer} from '../layer/tar.js'
import type {PlannedFile} from './plan.js'

export interface HubSource {
  hub: HubClient
  hfRepo: string
  sha: string
  policy: RetryPolicy
  signal?: AbortSignal
  onRetry?: (why: string) => void
}

export class LayerReader {
  /** Next layer byte read() returns. */
  position = 0
  /** Bytes hashed so far: the furthest position ever reached. */
  hashed = 0
  /** Bytes read that had been read before (replays and hash rebuilds). */
  reread = 0
  readonly size: number
  private readonly header: Buffer
  private readonly trailer: Buffer
  private readonly layerHash: Hash = createHash('sha256')
  private readonly contentHash: Hash = createHash('sha256')
  private body: {res: RawResponse; pieces: AsyncIterator<Buffer>; skip: number} | undefined
  private leftover: Buffer | undefined

  constructor(readonly file: PlannedFile, private readonly source: HubSource) {
    this.header = layerHeader(file.path, file.size)
    this.trailer = layerTrailer(file.size)
    this.size = file.layerSize
  }

  private get contentEnd(): number {
    return this.header.length + this.file.size
  }

  /** Move to `target`: backwards re-reads from the Hub; forwards reads (and hashes) the gap. */
  async seek(target: number): Promise<void> {
    if (target < this.position) {
      this.closeBody()
      this.position = target
      return
    }
    while (this.position < target) await this.read(target - this.position)
  }

  /** Up to `max` bytes at the current position (at least one, unless at the end). */
  async read(max: number): Promise<Buffer> {
    const at = this.position
    let piece: Buffer
    if (at < this.header.length) piece = this.header.subarray(at, Math.min(this.header.length, at + max))
    else if (at >= this.contentEnd) piece = this.trailer.subarray(at - this.contentEnd, at - this.contentEnd + max)
    else piece = await this.readContent(Math.min(max, this.contentEnd - at))
    this.account(at, piece)
    this.position = at + piece.length
    return piece
  }

  digests(): {digest: string; contentSha256: string} {
    if (this.hashed !== this.size) throw new Error(`layer of ${this.file.path} hashed to ${this.hashed} of ${this.size} bytes`)
    return {digest: `sha256:${this.layerHash.digest('hex')}`, contentSha256: this.contentHash.digest('hex')}
  }

  close(): void {
    this.closeBody()
  }

  private account(at: number, piece: Buffer): void {
    const end = at + piece.length
    if (end <= this.hashed) {
      this.reread += piece.length
      return
    }
    const fresh = at >= this.hashed ? piece : piece.subarray(this.hashed - at)
    this.reread += piece.length - fresh.length
    const freshAt = end - fresh.length
    this.layerHash.update(fresh)
    const cStart = Math.max(freshAt, this.header.length)
    const cEnd = Math.min(end, this.contentEnd)
    if (cEnd > cStart) this.contentHash.update(fresh.subarray(cStart - freshAt, cEnd - freshAt))
    this.hashed = end
  }

  /** Content bytes at the current position, continuing cut or stalled bodies with Range. */
  private async readContent(max: number): Promise<Buffer> {
    let failures = 0
    for (;;) {
      try {
        if (this.leftover) return this.take(this.leftover, max)
        if (!this.body) await this.openBody()
        const next = await this.body!.pieces.next()
        if (next.done) {
          this.closeBody()
          throw new RetryableError(`the Hub's body for ${this.file.path} ended at byte ${this.position - this.header.length} of ${this.file.size}`)
        }
        let chunk = next.value
        if (this.body!.skip > 0) {
          // A 200 to a Range request: the stream starts over; drop what we have.
          const drop = Math.min(this.body!.skip, chunk.length)
          this.body!.skip -= drop
          chunk = chunk.subarray(drop)
          if (chunk.length === 0) continue
        }
        return this.take(chunk, max)
      } catch (error) {
        this.closeBody()
        const retryable = error instanceof TransportError || error instanceof RetryableError || isStreamError(error)
        if (!retryable || ++failures > this.source.policy.maxRetries || this.source.signal?.aborted) throw error
        this.source.onRetry?.(`${this.file.path}: ${(error as Error).message}; continuing from byte ${this.position - this.header.length}`)
        await sleep(backoffDelay(failures - 1, this.source.policy, error instanceof RetryableError ? error.retryAfterMs : undefined), undefined, {signal: this.source.signal})
      }
    }
  }

  private take(chunk: Buffer, max: number): Buffer {
    if (chunk.length <= max) {
      this.leftover = undefined
      return chunk
    }
    this.leftover = chunk.subarray(max)
    return chunk.subarray(0, max)
  }

  private async openBody(): Promise<void> {
    const offset = this.position - this.header.length
    const {hub, hfRepo, sha, signal} = this.source
    let res: RawResponse
    let skip = 0
    try {
      res = await hub.openFile(hfRepo, sha, this.file, offset, signal)
    } catch (error) {
      if (!(error instanceof RangeIgnoredError)) throw error
      // Never splice: read the whole file again and drop the bytes before offset.
      this.source.onRetry?.(`${this.file.path}: ${error.message}; reading it from the start`)
      res = await hub.openFile(hfRepo, sha, this.file, 0, signal)
      skip = offset
    }
    this.body = {res, pieces: (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator](), skip}
  }

  private closeBody(): void {
    this.leftover = undefined
    if (this.body) {
      this.body.res.body.destroy()
      this.body = undefined
    }
  }
}

function isStreamError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ETIMEDOUT' || (error as Error)?.message === 'aborted'
}
