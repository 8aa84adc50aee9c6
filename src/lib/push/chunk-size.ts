// PATCH sizes that fit the link (--chunk-mib not given). Each PATCH waits a
// round trip for its answer before the next one starts; bodies are streamed,
// not buffered, so a bigger PATCH costs no memory, only a bigger re-send after
// a failure and a coarser resume checkpoint. Size each PATCH to carry about
// targetSeconds of data at the rate the last ones went, within bounds.
//
// Files that start together at the same rate would also end their PATCHes
// together, and a link they share would idle for that round trip every time
// (measured over the WAN bench: 4 files, 100 ms of an idle uplink every 2 s).
// Each size is drawn within ±jitter of the target, so the waits spread out.
const MiB = 1024 * 1024
export const AUTO_CHUNK = {initial: 8 * MiB, min: 8 * MiB, max: 64 * MiB, targetSeconds: 2, jitter: 0.25}

export interface ChunkSizer {
  /** Bytes for the next PATCH (before the registry's own bounds). */
  size(): number
  /** A PATCH of `bytes` was answered after `ms`. */
  measured(bytes: number, ms: number): void
}

/** The same size every time: --chunk-mib. */
export function fixedChunks(bytes: number): ChunkSizer {
  return {size: () => bytes, measured: () => undefined}
}

/**
 * Sized from the measured rate (bytes over the whole exchange, round trip
 * included, so it errs small), smoothed over PATCHes, jittered, in whole MiB.
 */
export function measuredChunks(bounds = AUTO_CHUNK, random: () => number = Math.random): ChunkSizer {
  let rate: number | undefined // bytes per second
  return {
    size() {
      const target = rate === undefined ? bounds.initial : rate * bounds.targetSeconds
      const want = Math.round((target * (1 + bounds.jitter * (2 * random() - 1))) / MiB) * MiB
      return Math.min(bounds.max, Math.max(bounds.min, want))
    },
    measured(bytes, ms) {
      // Short PATCHes (a layer's tail) say little about the link.
      if (bytes < bounds.min / 2 || ms <= 0) return
      const now = (bytes * 1000) / ms
      rate = rate === undefined ? now : (rate + now) / 2
    },
  }
}
