// One large file over several Hub connections. A CDN caps each download
// connection, so one body is as slow as that cap whatever the link: read the
// file as ranged GETs of SEGMENT_BYTES, up to SEGMENTS_AHEAD at a time, and
// hand the bytes on strictly in order, so the upload stays the one sequential
// stream the OCI protocol allows and every byte is hashed once, in order.
// Memory per file: at most SEGMENTS_AHEAD segments held or in flight
// (SEGMENT_MEMORY, 12 MiB); only files over SEGMENTED_MIN_BYTES are read so.
// Workers with no file left lend their share to the largest file still
// running (SegmentShares), so the push's bound stays workers x SEGMENT_MEMORY.
// Three connections carry 75 MB/s from a CDN that caps each at 25 MB/s, more
// than one registry connection takes; with 8 MiB x 4, --workers 4 peaked at
// 262 MiB RSS on loopback.
import {RetryableError} from '../http/retry.js'
import type {RawResponse} from '../http/raw.js'

const MiB = 1024 * 1024
export const SEGMENT_BYTES = 4 * MiB
export const SEGMENTS_AHEAD = 3
/** The most content bytes of one file in memory or in flight at once. */
export const SEGMENT_MEMORY = SEGMENT_BYTES * SEGMENTS_AHEAD
/** Smaller files take one body: a few round trips more would cost more than they win. */
export const SEGMENTED_MIN_BYTES = 64 * MiB
/** However many workers are idle, one file opens at most this many Hub connections at once. */
export const MAX_SEGMENTS_AHEAD = 12

export function segmentedWorth(size: number): boolean {
  return size > SEGMENTED_MIN_BYTES
}

/**
 * The push's segment budget: SEGMENTS_AHEAD per worker. A running file reads
 * with its own share; the shares of idle workers (the queue is empty, so they
 * have no file) go to the largest file still running, which would otherwise
 * finish alone over SEGMENTS_AHEAD connections while the rest of the push waits.
 */
export class SegmentShares {
  private readonly running = new Map<string, number>()

  constructor(private readonly workers: number) {}

  /** A file starts reading; `leave()` when it is done, whatever the outcome. */
  join(path: string, size: number): {ahead: () => number; leave: () => void} {
    this.running.set(path, size)
    return {ahead: () => this.ahead(path), leave: () => this.running.delete(path)}
  }

  /** Segments this file may hold or have in flight now. */
  ahead(path: string): number {
    const idle = Math.max(0, this.workers - this.running.size)
    return idle > 0 && this.largest() === path ? Math.min(MAX_SEGMENTS_AHEAD, SEGMENTS_AHEAD * (1 + idle)) : SEGMENTS_AHEAD
  }

  private largest(): string | undefined {
    let best: [string, number] | undefined
    for (const [path, size] of this.running) if (!best || size > best[1] || (size === best[1] && path < best[0])) best = [path, size]
    return best?.[0]
  }
}

/** A body for content bytes [start, end). */
export type OpenRange = (start: number, end: number, signal: AbortSignal) => Promise<RawResponse>

/**
 * Content bytes [start, end) as an in-order iterator over parallel segments.
 * A segment that fails surfaces its error when the reader reaches it (the
 * bytes before it are handed on first); the reader then opens a new body
 * from where it stands, as after any cut body.
 */
export class SegmentedBody implements AsyncIterator<Buffer> {
  private readonly controller = new AbortController()
  private readonly queued: Array<Promise<Buffer[]>> = []
  private current: Buffer[] = []
  private scheduled: number
  private readonly unlink: () => void

  constructor(
    private readonly open: OpenRange,
    start: number,
    private readonly end: number,
    signal?: AbortSignal,
    /** How many segments may be held or in flight now (a SegmentShares allowance). */
    private readonly ahead: () => number = () => SEGMENTS_AHEAD,
  ) {
    this.scheduled = start
    const abort = () => this.controller.abort(signal?.reason)
    if (signal?.aborted) abort()
    else signal?.addEventListener('abort', abort, {once: true})
    this.unlink = () => signal?.removeEventListener('abort', abort)
    this.fill()
  }

  async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const piece = this.current.shift()
      if (piece) return {done: false, value: piece}
      const head = this.queued.shift()
      if (!head) return {done: true, value: undefined}
      this.current = await head
      this.fill()
    }
  }

  destroy(): void {
    this.unlink()
    this.controller.abort()
    this.queued.length = 0
    this.current = []
  }

  private fill(): void {
    while (this.queued.length + (this.current.length > 0 ? 1 : 0) < this.ahead() && this.scheduled < this.end) {
      const from = this.scheduled
      const to = Math.min(this.end, from + SEGMENT_BYTES)
      const segment = this.fetch(from, to)
      segment.catch(() => undefined) // read when the reader gets there, or dropped with the body
      this.queued.push(segment)
      this.scheduled = to
    }
  }

  private async fetch(from: number, to: number): Promise<Buffer[]> {
    const res = await this.open(from, to, this.controller.signal)
    const pieces: Buffer[] = []
    let got = 0
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        pieces.push(chunk)
        got += chunk.length
      }
    } finally {
      res.body.destroy()
    }
    if (got !== to - from) throw new RetryableError(`a segment of the Hub's body ended at ${from + got} of ${from}-${to}`)
    return pieces
  }
}
