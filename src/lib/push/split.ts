// A split push: one repo's files spread over `count` processes (the shards of
// `modelcar mirror --split-files`). The partition depends on the file listing
// alone, so every shard computes the same one without talking to the others;
// the registry is the only coordinator (partial manifests under split tags).
import {UsageError} from '../errors.js'

export interface Split {
  index: number
  count: number
}

/** The most shards one repo is split over. */
export const MAX_SPLIT = 64

export function validateSplit(split: Split): Split {
  const {index, count} = split
  if (!Number.isInteger(count) || count < 1 || count > MAX_SPLIT)
    throw new UsageError(`--split-count must be a whole number from 1 to ${MAX_SPLIT} (got ${count}).`)
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new UsageError(`--split-index must be a whole number from 0 to ${count - 1} (got ${index}).`)
  return split
}

/**
 * The shard of every file: largest first (ties by path), each to the shard
 * with the fewest layer bytes so far (ties to the lowest index).
 */
export function assignShards<T extends {path: string; layerSize: number}>(files: T[], count: number): Map<string, number> {
  const order = [...files].sort((a, b) => b.layerSize - a.layerSize || Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
  const load = Array.from({length: count}, () => 0)
  const shard = new Map<string, number>()
  for (const f of order) {
    let best = 0
    for (let i = 1; i < count; i++) if (load[i] < load[best]) best = i
    load[best] += f.layerSize
    shard.set(f.path, best)
  }
  return shard
}

/** The tag of one shard's partial manifest: its layers, so the others (and discovery) find them. */
export function splitTag(tag: string, split: Split): string {
  return `${tag}-split-${split.index}-of-${split.count}`
}
