// A layer's bytes, readable in order from any position: the tar header and
// trailer come from memory, the content from the Hub with Range. Every byte is
// hashed (layer and content SHA-256, and for a file outside LFS its git blob
// id, which the listing gives) the first time it is read, so the reader
// can go back (to re-send what the registry did not keep) without hashing a
// byte twice. A resumed upload starts from a saved hash state (`checkpoint()`)
// or, without one, from byte 0 to rebuild the hash.
import {createHash, type Hash} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'
import {RangeIgnoredError, type HubClient} from '../hf/client.js'
import {TransportError, type RawResponse} from '../http/raw.js'
import * as arenas from '../http/read-arenas.js'
import {backoffDelay, RetryableError, type RetryPolicy} from '../http/retry.js'
import {ModelcarError} from '../errors.js'
import {createSha256, updateBoth, type Sha256} from '../hash/sha256.js'
import {layerHeader, layerTrailer} from '../layer/tar.js'
import {packHashStates, unpackHashStates} from '../state/checkpoint.js'
import type {PlannedFile} from './plan.js'
import {SegmentedBody, SEGMENTS_AHEAD, segmentedWorth, type SegmentShare} from './segments.js'

/** The upload went back before the restored hash state: those bytes cannot be hashed again, the layer restarts. */
export class RewoundPastStateError extends ModelcarError {
  constructor(message: string) {
    super(message, {code: 'E_UPLOAD_RESTART'})
    this.name = 'RewoundPastStateError'
  }
}

export interface HubSource {
  hub: HubClient
  hfRepo: string
  sha: string
  policy: RetryPolicy
  signal?: AbortSignal
  onRetry?: (why: string) => void
  /** The file's share of the push's segments (SegmentShares.join); without, SEGMENTS_AHEAD and a PUSH_SEGMENT_MEMORY of its own. */
  segments?: SegmentShare
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
  /** SHA-1 of `blob <size>\0<content>`, for files the listing names by git blob id (not LFS). */
  private readonly gitBlob: Hash | undefined
  private body: {pieces: AsyncIterator<Buffer>; destroy: () => void; skip: number; segmented: boolean} | undefined
  /** Large files are read over several Hub connections, until the Hub ignores a Range. */
  private segmented: boolean
  private leftover: Buffer | undefined
  /** A body opening ahead of the first read (prefetch): settles with its failure, if any. */
  private opening: Promise<Error | undefined> | undefined
  private closed = false

  /** `hashState`: a `checkpoint()`, to continue the hashes where it was taken. */
  constructor(
    readonly file: PlannedFile,
    private readonly source: HubSource,
    hashState?: Buffer,
  ) {
    this.header = layerHeader(file.path, file.size)
    this.trailer = layerTrailer(file.size)
    this.size = file.layerSize
    // node:crypto's SHA-1 cannot be saved: a file checked by git blob id (at
    // most a few MiB outside LFS) hashes from its first byte again.
    const checkBlobId = !file.lfsSha256 && /^[0-9a-f]{40}$/.test(file.oid)
    const saved = hashState && !checkBlobId ? unpackHashStates(hashState) : undefined
    const usable = saved && saved.offset <= this.size ? saved : undefined
    this.gitBlob = checkBlobId ? createHash('sha1').update(`blob ${file.size}\0`) : undefined
    this.layerHash = createSha256(usable?.layer)
    this.contentHash = createSha256(usable?.content)
    this.restoredAt = usable?.offset ?? 0
    this.position = this.hashed = this.restoredAt
    this.segmented = segmentedWorth(file.size)
  }

  /** Both hash states, when exactly `offset` bytes are hashed (to save with that checkpoint). */
  checkpoint(offset: number): Buffer | undefined {
    if (offset !== this.hashed) return undefined
    const layer = this.layerHash.save()
    const content = this.contentHash.save()
    if (!layer || !content) return undefined
    return packHashStates({offset, layer, content})
  }

  private get contentEnd(): number {
    return this.header.length + this.file.size
  }

  /** Move to `target`: backwards re-reads from the Hub; forwards reads (and hashes) the gap. */
  async seek(target: number): Promise<void> {
    if (target < this.restoredAt) {
      const why = `the registry went back to byte ${target}, before the restored hash state (${this.restoredAt})`
      throw new RewoundPastStateError(`${this.file.path}: ${why}`)
    }
    if (target < this.position) {
      this.closeBody()
      this.position = target
      return
    }
    while (this.position < target) arenas.giveBack(await this.read(target - this.position))
  }

  /** Up to `max` bytes at the current position (at least one, unless at the end). */
  async read(max: number): Promise<Buffer> {
    const at = this.position
    let piece: Buffer
    if (at < this.header.length) piece = this.header.subarray(at, Math.min(this.header.length, at + max))
    else if (at >= this.contentEnd) piece = this.trailer.subarray(at - this.contentEnd, at - this.contentEnd + max)
    else {
      piece = await this.readContent(Math.min(max, this.contentEnd - at))
      if (at + piece.length === this.contentEnd) await this.expectBodyEnd()
    }
    this.account(at, piece)
    this.position = at + piece.length
    return piece
  }

  /**
   * A piece read() gave is sent (its socket write completed): the Hub body's
   * memory it is a view of may take new reads (http/read-arenas.ts).
   */
  giveBack(piece: Buffer): void {
    arenas.giveBack(piece)
  }

  digests(): {digest: string; contentSha256: string; gitBlobId?: string} {
    if (this.hashed !== this.size) throw new Error(`layer of ${this.file.path} hashed to ${this.hashed} of ${this.size} bytes`)
    return {
      digest: `sha256:${this.layerHash.hex()}`,
      contentSha256: this.contentHash.hex(),
      ...(this.gitBlob ? {gitBlobId: this.gitBlob.copy().digest('hex')} : {}),
    }
  }

  /**
   * Open the Hub body at the current position now, without reading it: the
   * first read takes it. Called while the upload session opens, so the Hub's
   * round trips (resolve, redirect, first byte) overlap the registry's. A
   * failure here is the first read's first failure (its retries count it).
   */
  prefetch(): void {
    if (this.body || this.opening || this.position >= this.contentEnd) return
    const offset = () => Math.max(0, this.position - this.header.length)
    const at = offset()
    this.opening = this.openBody(at).then(
      () => {
        // Closed, or moved elsewhere while it opened: not the body the next read wants.
        if (this.closed || offset() !== at) this.closeBody()
        return undefined
      },
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    )
  }

  close(): void {
    this.closed = true
    this.closeBody()
  }

  private account(at: number, piece: Buffer): void {
    const end = at + piece.length
    // Re-read counts what came from the Hub again: content bytes, not the tar framing held in memory.
    this.reread += this.contentBytes(at, Math.min(end, this.hashed))
    if (end <= this.hashed) return
    const fresh = at >= this.hashed ? piece : piece.subarray(this.hashed - at)
    const freshAt = end - fresh.length
    // Tar framing goes to the layer hash alone; content to both, in one pass.
    const cStart = Math.min(Math.max(freshAt, this.header.length), end)
    const cEnd = Math.max(Math.min(end, this.contentEnd), cStart)
    if (cStart > freshAt) this.layerHash.update(fresh.subarray(0, cStart - freshAt))
    if (cEnd > cStart) {
      const content = fresh.subarray(cStart - freshAt, cEnd - freshAt)
      updateBoth(this.layerHash, this.contentHash, content)
      this.gitBlob?.update(content)
    }
    if (end > cEnd) this.layerHash.update(fresh.subarray(cEnd - freshAt))
    this.hashed = end
  }

  /** How many of the layer bytes [from, to) are file content (the rest is tar framing, made here). */
  contentBytes(from: number, to: number): number {
    return Math.max(0, Math.min(to, this.contentEnd) - Math.max(from, this.header.length))
  }

  /** Content bytes at the current position, continuing cut or stalled bodies with Range. */
  private async readContent(max: number): Promise<Buffer> {
    let failures = 0
    for (;;) {
      try {
        if (this.leftover) return this.take(this.leftover, max)
        const prefetchFailed = this.body ? undefined : await this.opening
        this.opening = undefined
        if (prefetchFailed) throw prefetchFailed
        if (this.body && !this.body.segmented && this.worthSegments()) this.closeBody()
        if (!this.body) await this.openBody()
        const next = await this.body!.pieces.next()
        if (next.done) {
          this.closeBody()
          throw new RetryableError(
            `the Hub's body for ${this.file.path} ended at byte ${this.position - this.header.length} of ${this.file.size}`,
          )
        }
        let chunk = next.value
        if (this.body!.skip > 0) {
          // A 200 to a Range request: the stream starts over; drop what we have.
          const drop = Math.min(this.body!.skip, chunk.length)
          this.body!.skip -= drop
          arenas.giveBack(chunk.subarray(0, drop))
          chunk = chunk.subarray(drop)
          if (chunk.length === 0) continue
        }
        return this.take(chunk, max)
      } catch (error) {
        this.closeBody()
        // Segments need the Hub to honour Range; one body copes without.
        if (error instanceof RangeIgnoredError) this.segmented = false
        const retryable = error instanceof TransportError || error instanceof RetryableError || isStreamError(error)
        if (!retryable || ++failures > this.source.policy.maxRetries || this.source.signal?.aborted) throw error
        this.source.onRetry?.(`${this.file.path}: ${(error as Error).message}; continuing from byte ${this.position - this.header.length}`)
        await sleep(
          backoffDelay(failures - 1, this.source.policy, error instanceof RetryableError ? error.retryAfterMs : undefined),
          undefined,
          {signal: this.source.signal},
        )
      }
    }
  }

  /**
   * The listing's size is the whole file: a body that goes on past it (no
   * Content-Length to catch it early) is refused, not cut to fit.
   */
  private async expectBodyEnd(): Promise<void> {
    const extra = this.leftover?.length ?? 0
    this.leftover = undefined
    const next = extra === 0 && this.body ? await this.body.pieces.next() : undefined
    this.closeBody()
    if (extra > 0 || (next && !next.done && next.value.length > 0)) {
      throw new ModelcarError(
        `The Hub sent ${this.file.path} with more bytes than the ${this.file.size} its listing gives: the repo changed or the mirror is inconsistent; nothing was pushed for this file.`,
        {code: 'E_HUB_SIZE'},
      )
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

  private async openBody(offset = this.position - this.header.length): Promise<void> {
    const {hub, hfRepo, sha, signal} = this.source
    if (this.segmented && this.allowance() > 1) {
      const open = (start: number, end: number, segmentSignal: AbortSignal) =>
        hub.openFile(hfRepo, sha, this.file, start, segmentSignal, end)
      const body = new SegmentedBody(open, offset, this.file.size, signal, this.source.segments?.ahead, this.source.segments?.budget)
      this.body = {pieces: body, destroy: () => body.destroy(), skip: 0, segmented: true}
      return
    }
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
    this.body = {
      pieces: (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
      destroy: () => res.body.destroy(),
      skip,
      segmented: false,
    }
  }

  /**
   * Workers ran out of files and lend their connections: one body becomes
   * segments from here, when enough of the file is left to gain from new
   * connections (as for a whole file: segmentedWorth). At the end of a push of
   * equal shards the first to finish would otherwise make the others drop their
   * bodies for their last few MiB.
   */
  private worthSegments(): boolean {
    const rest = this.contentEnd - this.position
    return this.segmented && this.body?.skip === 0 && segmentedWorth(rest) && this.allowance() > 1
  }

  /** Hub connections this file may read over now (its SegmentShare; alone, SEGMENTS_AHEAD). */
  private allowance(): number {
    return this.source.segments?.ahead() ?? SEGMENTS_AHEAD
  }

  private closeBody(): void {
    // Never handed out: nothing else reads it.
    if (this.leftover) arenas.giveBack(this.leftover)
    this.leftover = undefined
    if (this.body) {
      this.body.destroy()
      this.body = undefined
    }
  }
}

function isStreamError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code
  return (
    code === 'ECONNRESET' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT' ||
    (error as Error)?.message === 'aborted'
  )
}
