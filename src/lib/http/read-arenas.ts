// Socket reads into reused memory. Left to itself, Node gives every socket
// read a fresh ArrayBuffer, which V8 frees only after ~64 MiB of external
// memory has piled up: at --workers 4 that garbage was a third of the peak
// RSS, and its collection a share of the CPU. Here a socket (net/tls
// `onread`) reads into the free tail of an arena of ARENA_BYTES; body pieces
// handed to a consumer are views of it. A consumer that says when it is done
// with a piece (giveBack) lets the arena be reused; one that never says so
// leaves it to the collector, as before, so forgetting is safe and only giving
// back too early is not. The rule for giving back: once nothing reads the
// piece's bytes any more (a socket write's callback, not its return).

// Reads of up to 128 KiB, twice node's own 64: half the read and write
// syscalls per byte moved. Over `npm run bench`, alternating runs, that took
// 4-12 % off a push's CPU at --workers 4 for no measurable peak RSS (arenas of
// 256 KiB, two reads each: a socket's arena is partly filled most of the time).
const ARENA_BYTES = 256 << 10
/** The most one read takes. */
export const READ_BYTES = 128 << 10
/** A tail shorter than this is not worth a read: the arena is done. */
const MIN_READ_BYTES = 16 << 10
/**
 * Free arenas kept for reuse (32 MiB at most; a push's working set at
 * --workers 4 is ~12): beyond, they go to the collector. Keeping too few
 * undoes the point: with 16 of 256 KiB kept, a push of 2 GiB made 880 arenas
 * instead of 90.
 */
const KEEP_FREE = 128

class Arena {
  /** Bytes read into it so far. */
  used = 0
  /** Bytes lent to consumers, and how many of them came back. */
  lent = 0
  returned = 0
  /** No socket reads into it any more. */
  sealed = false
  free = false
  /** More bytes came back than were lent (a piece given back twice): never reuse this arena. */
  poisoned = false

  constructor(readonly bytes: Buffer) {}
}

const arenaOf = new WeakMap<ArrayBufferLike, Arena>()
const freeArenas: Arena[] = []

/** Arenas made, and reads that went into one reused (tests, benchmarks). */
const counts = {created: 0, reused: 0}

function takeArena(): Arena {
  const arena = freeArenas.pop()
  if (!arena) {
    const fresh = new Arena(Buffer.allocUnsafeSlow(ARENA_BYTES))
    arenaOf.set(fresh.bytes.buffer, fresh)
    counts.created++
    return fresh
  }
  counts.reused++
  arena.used = arena.lent = arena.returned = 0
  arena.sealed = arena.free = false
  return arena
}

function freeIfDone(arena: Arena): void {
  if (!arena.sealed || arena.free || arena.poisoned || arena.returned !== arena.lent) return
  arena.free = true
  if (freeArenas.length < KEEP_FREE) freeArenas.push(arena)
}

/**
 * The consumer is done with `piece`: its bytes may be overwritten by a later
 * read. Anything not lent by an arena (tar headers, copies, node:http's
 * chunks) is ignored.
 */
export function giveBack(piece: Buffer): void {
  const arena = arenaOf.get(piece.buffer)
  if (!arena || arena.free || arena.poisoned) return
  arena.returned += piece.length
  if (arena.returned > arena.lent) arena.poisoned = true
  else freeIfDone(arena)
}

/** Arenas made and reused so far, and how many wait for reuse now. */
export function arenaStats(): {created: number; reused: number; free: number} {
  return {...counts, free: freeArenas.length}
}

/** Whether `piece` is a view of an arena: lent, not owned (tests). */
export function inArena(piece: Buffer): boolean {
  return arenaOf.has(piece.buffer)
}

/** One socket's reads: the `onread` option to connect with, and where each read goes. */
export class SocketReads {
  /** Gets each read, a view valid until the next read unless lent. */
  handler: ((chunk: Buffer) => void) | undefined
  private arena: Arena | undefined

  readonly onread = {
    buffer: (): Buffer => {
      let arena = this.arena
      if (!arena || arena.bytes.length - arena.used < MIN_READ_BYTES) {
        this.seal()
        arena = this.arena = takeArena()
      }
      return arena.bytes.subarray(arena.used, Math.min(arena.bytes.length, arena.used + READ_BYTES))
    },
    callback: (nread: number, buffer: Buffer): boolean => {
      this.arena!.used += nread
      this.handler?.(buffer.subarray(0, nread))
      return true
    },
  }

  /** Hand `piece` (a view of the last read) to a consumer, who gives it back once done with it. */
  lend(piece: Buffer): Buffer {
    const arena = arenaOf.get(piece.buffer)
    if (arena) arena.lent += piece.length
    return piece
  }

  /** The socket is gone: its arena takes no more reads. */
  seal(): void {
    const arena = this.arena
    this.arena = undefined
    if (!arena) return
    arena.sealed = true
    freeIfDone(arena)
  }
}
