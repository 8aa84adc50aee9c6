// A layer's bytes, readable in order from any position: the tar header and
// trailer come from memory, the content from the Hub with Range. Every byte is
// hashed (layer and content SHA-256) the first time it is read, so the reader
// can go back (to re-send what the registry did not keep) without hashing a
// byte twice. A resumed upload starts from a saved hash state (`checkpoint()`)
// or, without one, from byte 0 to rebuild the hash.
import {setTimeout as sleep} from 'node:timers/promises'
import {RangeIgnoredError, type HubClient} from '../hf/client.js'
import {TransportError, type RawResponse} from '../http/raw.js'
import {backoffDelay, RetryableError, type RetryPolicy} from '../http/retry.js'
import {createSha256, saveableHashes, savedStateSize, type Sha256} from '../hash/sha256.js'
import {layerHeader, layerTrailer} from '../layer/tar.js'
import {RestartLayerError} from '../oci/upload.js'
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
  /** Where the hashes started: a restored checkpoint's offset, or 0. */
  readonly restoredAt: number
  private readonly layerHash: Sha256
  private readonly contentHash: Sha256
  private body: {res: RawResponse; pieces: AsyncIterator<Buffer>; skip: number} | undefined
  private leftover: Buffer | undefined

  /** `hashState`: a `checkpoint()`, to continue the hashes where it was taken. */
  constructor(readonly file: PlannedFile, private readonly source: HubSource, hashState?: Buffer) {
    this.header = layerHeader(file.path, file.size)
    this.trailer = layerTrailer(file.size)
    this.size = file.layerSize
    const saved = hashState ? unpackStates(hashState) : undefined
    const usable = saved && saved.offset <= this.size ? saved : undefined
    this.layerHash = createSha256(usable?.layer)
    this.contentHash = createSha256(usable?.content)
    this.restoredAt = usable?.offset ?? 0
    this.position = this.hashed = this.restoredAt
  }

  /** Both hash states, when exactly `offset` bytes are hashed (to save with that checkpoint). */
  checkpoint(offset: number): Buffer | undefined {
    if (offset !== this.hashed) return undefined
    const layer = this.layerHash.save()
    const content = this.contentHash.save()
    if (!layer || !content) return undefined
    const head = Buffer.alloc(9)
    head[0] = STATE_FORMAT
    head.writeBigUInt64BE(BigInt(offset), 1)
    return Buffer.concat([head, layer, content])
  }

  private get contentEnd(): number {
    return this.header.length + this.file.size
  }

  /** Move to `target`: backwards re-reads from the Hub; forwards reads (and hashes) the gap. */
  async seek(target: number): Promise<void> {
    if (target < this.restoredAt) throw new RestartLayerError(`${this.file.path}: the registry went back to byte ${target}, before the restored hash state (${this.restoredAt})`)
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
    return {digest: `sha256:${this.layerHash.hex()}`, contentSha256: this.contentHash.hex()}
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

/** Saved hash states: a format byte, the offset (u64), then the layer's and the content's states. */
const STATE_FORMAT = 1

function unpackStates(saved: Buffer): {offset: number; layer: Buffer; content: Buffer} | undefined {
  if (!saveableHashes || saved.length !== 9 + 2 * savedStateSize || saved[0] !== STATE_FORMAT) return undefined
  return {offset: Number(saved.readBigUInt64BE(1)), layer: saved.subarray(9, 9 + savedStateSize), content: saved.subarray(9 + savedStateSize)}
}

/** Where a `checkpoint()` was taken; undefined if it cannot be restored here. */
export function savedStateOffset(saved: Buffer): number | undefined {
  return unpackStates(saved)?.offset
}

function isStreamError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ETIMEDOUT' || (error as Error)?.message === 'aborted'
}
