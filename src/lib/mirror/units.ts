// From mirror entries to pushes: one unit per (entry, revision), its push
// parameters built by the same builder as `modelcar push` flags, and the
// units this shard runs.
import {UsageError} from '../errors.js'
import {UPLOAD_MODES, type UploadModeFlag} from '../oci/profiles.js'
import {pushParams} from '../push/params.js'
import type {PushParams} from '../push/plan.js'
import type {MirrorEntrySpec} from './file.js'

export interface MirrorUnit {
  entry: number
  revision: string
  params: PushParams
  /** What makes the unit this unit: the sort key of the partition. */
  key: string
  splitFiles: boolean
}

/** Where a flag's problem lives in the mirror file: push's messages name flags. */
const FLAG_KEYS: Record<string, string> = {
  '--hf-repo': 'repo',
  '--hf-revision': 'revision',
  '--target-repo': 'target',
  '--target-tag': 'tags',
  '--also-tag': 'tags',
  '--registry': 'registry',
  '--workers': 'workers',
  '--chunk-mib': 'chunk-mib',
  '--base-image': 'base-image',
  '--platform': 'platforms',
  '--include': 'include',
  '--exclude': 'exclude',
}

/** Every unit of the file, checked as push checks its flags; a problem names the entry. */
export function mirrorUnits(entries: MirrorEntrySpec[], file = 'mirror file'): MirrorUnit[] {
  const units: MirrorUnit[] = []
  const seen = new Map<string, number>()
  for (const e of entries) {
    const fail = (what: string) => new UsageError(`${file}: models[${e.index}]: ${what}`, 'E_MIRROR_FILE')
    if (!UPLOAD_MODES.includes(e.uploadMode as UploadModeFlag))
      throw fail(`upload-mode must be one of ${UPLOAD_MODES.join(', ')} (got ${e.uploadMode}).`)
    if (e.revisions.length > 1 && e.tags.length > 0 && !e.tags.every((t) => t.includes('{revision}')))
      throw fail('with several revisions every tag must contain {revision}, or each revision would move the same tag.')
    for (const revision of e.revisions) {
      const tags = e.tags.map((t) => t.replaceAll('{revision}', revision.replaceAll('/', '-')))
      let params: PushParams
      try {
        params = pushParams({
          'hf-repo': e.repo,
          'hf-revision': revision,
          registry: e.registry,
          'target-repo': e.target,
          ...(tags.length > 0 ? {'target-tag': tags[0], 'also-tag': tags.slice(1)} : {}),
          workers: e.workers,
          'chunk-mib': e.chunkMiB,
          include: e.include,
          exclude: e.exclude,
          'upload-mode': e.uploadMode,
          'base-image': e.baseImage,
          platform: e.platforms,
          modelpack: e.modelpack,
        })
      } catch (error) {
        if (!(error instanceof UsageError)) throw error
        throw fail(error.message.replace(/--[a-z-]+/g, (flag) => FLAG_KEYS[flag] ?? flag))
      }
      const key = `${params.hfRepo}@${revision}→${params.registry.baseUrl}/${params.targetRepo}:${params.targetTag ?? ''}`
      const twin = seen.get(key)
      if (twin !== undefined) throw fail(`pushes ${params.hfRepo}@${revision} to the same image as models[${twin}]: remove one.`)
      seen.set(key, e.index)
      units.push({entry: e.index, revision, params, key, splitFiles: e.splitFiles})
    }
  }
  return units
}

export interface Shard {
  index: number
  count: number
}

/** --shard-index / --shard-count, each defaulting to the environment (JOB_COMPLETION_INDEX, MODELCAR_SHARD_COUNT). */
export function shardOf(index: number | undefined, count: number | undefined): Shard {
  const n = count ?? 1
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--shard-count must be a whole number from 1 (got ${count}).`)
  const i = index ?? 0
  if (!Number.isInteger(i) || i < 0 || i >= n)
    throw new UsageError(
      `--shard-index must be from 0 to ${n - 1} with --shard-count ${n} (got ${index}): set --shard-count (MODELCAR_SHARD_COUNT) to the number of shards.`,
    )
  return {index: i, count: n}
}

/**
 * This shard's units: sorted by key (so the file's order does not matter),
 * the k-th unit goes to shard k mod count; units of split-files entries run on
 * every shard, each with its share of the files.
 */
export function shardUnits(units: MirrorUnit[], shard: Shard): MirrorUnit[] {
  const whole = units.filter((u) => !u.splitFiles).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const mine = new Set(whole.filter((_, k) => k % shard.count === shard.index))
  return units
    .filter((u) => u.splitFiles || mine.has(u))
    .map((u) => (u.splitFiles && shard.count > 1 ? {...u, params: {...u.params, split: {index: shard.index, count: shard.count}}} : u))
}
