// One large file over several Hub connections. A CDN caps each download
// connection, so one body is as slow as that cap whatever the link: read the
// file as ranged GETs of SEGMENT_BYTES, up to SEGMENTS_AHEAD at a time, and
// hand the bytes on strictly in order, so the upload stays the one sequential
// stream the OCI protocol allows and every byte is hashed once, in order.
// The segment the reader is on streams through as it arrives; the ones ahead
// keep what they read, at most PUSH_SEGMENT_MEMORY (4 MiB) for the whole push:
// past that a segment stops reading its body and TCP holds the Hub back. Only files over
// SEGMENTED_MIN_BYTES are read so. Workers with no file left lend their share
// of connections to the largest file still running (SegmentShares).
// Three connections carry 75 MB/s from a CDN that caps each at 25 MB/s, more
// than one registry connection takes. Held whole per segment, with no push-wide
// bound, --workers 4 held up to 48 MiB of segments (4 x 512 MiB on loopback).
import {setMaxListeners} from 'node:events'
import {RetryableError} from '../http/retry.js'
import {giveBack} from '../http/read-arenas.js'
import type {RawResponse} from '../http/raw.js'

const MiB = 1024 * 1024
// 8 MiB: each segment is a request whose objects outlive a few young
// collections and die in the old generation, and half as many as with 4 MiB
// took ~4 MiB off the peak RSS of one 2 GiB file at --workers 4 (12
// connections). 16 MiB saved no more and slowed the WAN: the part of a segment
// its reader finds unread streams at one Hub connection's rate. Over the WAN
// bench, one 1 GiB file: 45.0 MB/s with 4 MiB, 44.4 with 8, 42.4 with 16.
export const SEGMENT_BYTES = 8 * MiB
export const SEGMENTS_AHEAD = 3
/**
 * Bytes all the segments of a push may hold ahead of their readers: beyond
 * it, connections wait (TCP holds the Hub back) rather than the heap growing
 * with workers x what each file could hold.
 */
// 4 MiB, not 8 (nor 16 before): peak RSS of one 2 GiB file at --workers 4
// lost ~4 MiB of arenas, and over the WAN bench one 1 GiB file went as fast
// (45.0 MB/s against 45.2 with 8): a paused connection's socket buffer, not
// the heap, holds what it read ahead.
export const PUSH_SEGMENT_MEMORY = 4 * MiB
/** Smaller files take one body: a few round trips more would cost more than they win. */
export const SEGMENTED_MIN_BYTES = 64 * MiB
/** However many workers are idle, one file opens at most this many Hub connections at once. */
export const MAX_SEGMENTS_AHEAD = 12

export function segmentedWorth(size: number): boolean {
  return size > SEGMENTED_MIN_BYTES
}

/**
 * How many Hub connections each running file reads over. The push's own
 * connections are max(workers, SEGMENTS_AHEAD), shared by the running files
 * (at least one each, and one means a single body, not segments); the shares
 * of idle workers (the queue is empty, so they have no file) go to the
 * largest file still running, SEGMENTS_AHEAD each, which would otherwise finish
 * alone while the rest of the push waits.
 * Why not SEGMENTS_AHEAD for every file: with as many files running as there
 * are workers, the link is the limit, not one connection's cap, and segments
 * ahead of a reader take the link from the segment it is uploading. Over the
 * WAN bench, 4 x 512 MiB at --workers 4 moved 93% of the link with 3 segments
 * per file and 96% with one body each.
 */
export class SegmentShares {
  private readonly running = new Map<string, number>()
  /** The bytes every file's segments hold ahead of its reader, together. */
  readonly budget = new SegmentBudget(PUSH_SEGMENT_MEMORY)

  constructor(private readonly workers: number) {}

  /** A file starts reading; `leave()` when it is done, whatever the outcome. */
  join(path: string, size: number): SegmentShare & {leave: () => void} {
    this.running.set(path, size)
    return {ahead: () => this.ahead(path), budget: this.budget, leave: () => this.running.delete(path)}
  }

  /** Segments this file may hold or have in flight now (1: read it as one body). */
  ahead(path: string): number {
    const running = Math.max(1, this.running.size)
    const idle = Math.max(0, this.workers - running)
    const own = Math.ceil(Math.max(this.workers, SEGMENTS_AHEAD) / running)
    return idle > 0 && this.largest() === path ? Math.min(MAX_SEGMENTS_AHEAD, own + SEGMENTS_AHEAD * idle) : own
  }

  private largest(): string | undefined {
    let best: [string, number] | undefined
    for (const [path, size] of this.running) if (!best || size > best[1] || (size === best[1] && path < best[0])) best = [path, size]
    return best?.[0]
  }
}

/** One file's part of a push's segments: how many it may have now, and the bytes they may hold ahead, all files together. */
export interface SegmentShare {
  ahead: () => number
  budget: SegmentBudget
}

/** A body for content bytes [start, end). */
export type OpenRange = (start: number, end: number, signal: AbortSignal) => Promise<RawResponse>

interface Segment {
  from: number
  to: number
  /** Pieces read and not yet handed on. */
  pieces: Buffer[]
  held: number
  got: number
  done: boolean
  error?: Error
  /** The reader, waiting for this segment's next piece. */
  wake?: () => void
  /** The segment's reading, waiting for budget: go on (the reader took what it held, or the body is dropped). */
  resume?: () => void
}

/**
 * Content bytes [start, end) as an in-order iterator over parallel segments.
 * The segment the reader is on streams through as it arrives; the ones ahead
 * keep what they read until the reader gets there, within the push's
 * SegmentBudget. A segment that fails surfaces its error when the reader
 * reaches it (the bytes before it are handed on first); the reader then opens
 * a new body from where it stands, as after any cut body.
 */
export class SegmentedBody implements AsyncIterator<Buffer> {
  private readonly controller = new AbortController()
  private readonly queued: Segment[] = []
  private scheduled: number
  private readonly unlink: () => void

  constructor(
    private readonly open: OpenRange,
    start: number,
    private readonly end: number,
    signal?: AbortSignal,
    /** How many segments may be held or in flight now (a SegmentShares allowance). */
    private readonly ahead: () => number = () => SEGMENTS_AHEAD,
    /** Bytes held ahead of the reader, shared by the push (one file alone: a budget of its own). */
    private readonly budget: SegmentBudget = new SegmentBudget(),
  ) {
    this.scheduled = start
    // Every segment in flight listens on this signal: up to MAX_SEGMENTS_AHEAD at once, not a leak.
    setMaxListeners(MAX_SEGMENTS_AHEAD + 2, this.controller.signal)
    const abort = () => this.controller.abort(signal?.reason)
    if (signal?.aborted) abort()
    else signal?.addEventListener('abort', abort, {once: true})
    this.unlink = () => signal?.removeEventListener('abort', abort)
    this.fill()
  }

  async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const head = this.queued[0]
      if (!head) return {done: true, value: undefined}
      const piece = head.pieces.shift()
      if (piece) {
        head.held -= piece.length
        this.budget.give(piece.length)
        if (head.held === 0) head.resume?.()
        return {done: false, value: piece}
      }
      if (head.error !== undefined) throw head.error
      if (head.done) {
        this.queued.shift()
        this.fill()
        continue
      }
      await new Promise<void>((resolve) => (head.wake = resolve))
    }
  }

  destroy(): void {
    this.unlink()
    this.controller.abort()
    let held = 0
    for (const segment of this.queued.splice(0)) {
      held += segment.held
      segment.held = 0
      for (const piece of segment.pieces) giveBack(piece)
      segment.pieces = []
      segment.resume?.()
    }
    this.budget.give(held)
  }

  private fill(): void {
    while (this.queued.length < this.ahead() && this.scheduled < this.end) {
      const from = this.scheduled
      const to = Math.min(this.end, from + SEGMENT_BYTES)
      const segment: Segment = {from, to, pieces: [], held: 0, got: 0, done: false}
      this.queued.push(segment)
      void this.fetch(segment)
      this.scheduled = to
    }
  }

  private async fetch(segment: Segment): Promise<void> {
    const {from, to} = segment
    const signal = this.controller.signal
    try {
      const res = await this.open(from, to, signal)
      try {
        const pieces = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
        for (;;) {
          // With the budget spent, a segment reads on once the reader took what it holds (the head soon, those ahead later).
          while (segment.held > 0 && this.budget.full && !signal.aborted) {
            const waiting = this.budget.wait()
            segment.resume = waiting.wake
            await waiting.done
            segment.resume = undefined
          }
          if (signal.aborted) return
          const next = await pieces.next()
          if (!next.done && signal.aborted) giveBack(next.value)
          if (next.done || signal.aborted) break
          const chunk = next.value
          segment.pieces.push(chunk)
          segment.held += chunk.length
          segment.got += chunk.length
          this.budget.take(chunk.length)
          this.wakeReader(segment)
        }
      } finally {
        res.body.destroy()
      }
      if (!signal.aborted && segment.got !== to - from) {
        throw new RetryableError(`a segment of the Hub's body ended at ${from + segment.got} of ${from}-${to}`)
      }
    } catch (error) {
      segment.error = error instanceof Error ? error : new Error(String(error))
    } finally {
      segment.done = true
      this.wakeReader(segment)
    }
  }

  private wakeReader(segment: Segment): void {
    const wake = segment.wake
    segment.wake = undefined
    wake?.()
  }
}

/**
 * Content bytes the segments of a push may hold that their readers have not
 * taken yet, all files together. A segment ahead of its reader stops reading
 * its body while the budget is spent (its connection waits, and TCP holds the
 * Hub back); the segment a reader is on always reads, a piece at a time.
 */
export class SegmentBudget {
  private used = 0
  private readonly waiting = new Set<() => void>()

  constructor(readonly bytes: number = PUSH_SEGMENT_MEMORY) {}

  get held(): number {
    return this.used
  }

  get full(): boolean {
    return this.used >= this.bytes
  }

  take(bytes: number): void {
    this.used += bytes
  }

  give(bytes: number): void {
    this.used -= bytes
    if (this.full) return
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const wake of waiting) wake()
  }

  /** Until the budget has room again, or `wake` is called by whoever else may let the caller go on. */
  wait(): {done: Promise<void>; wake: () => void} {
    let wake!: () => void
    const done = new Promise<void>((resolve) => {
      wake = () => {
        this.waiting.delete(wake)
        resolve()
      }
    })
    this.waiting.add(wake)
    return {done, wake}
  }
}
