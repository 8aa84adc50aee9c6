// Flag values → validated push parameters. Every check throws a UsageError
// that names the flag and says what would be accepted.
import {UsageError} from '../errors.js'
import {validateHfRepo} from '../hf/repo.js'
import {parsePlatform, platformText} from '../oci/image.js'
import {layoutEndpoint, parseLayoutTarget} from '../oci/layout-reference.js'
import {parseImageReference, parseRegistry, validateRepository, validateTag} from '../oci/reference.js'
import type {UploadModeFlag} from '../oci/profiles.js'
import {validateSplit} from './split.js'
import type {PushParams} from './plan.js'

export const MAX_WORKERS = 8

export interface PushFlags {
  'hf-repo': string
  'hf-revision': string
  registry?: string
  'target-repo'?: string
  to?: string
  'target-tag'?: string
  'also-tag'?: string[]
  workers: number
  'chunk-mib'?: number
  include?: string[]
  exclude?: string[]
  'continue-on-error'?: boolean
  force?: boolean
  'upload-mode'?: string
  'base-image'?: string
  platform?: string[]
  modelpack?: boolean
  'from-image'?: string[]
  'split-index'?: number
  'split-count'?: number
}

/** --workers, shared by push and verify. */
export function validateWorkers(workers: number): number {
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new UsageError(`--workers must be a whole number from 1 to ${MAX_WORKERS} (got ${workers}).`)
  }
  return workers
}

export function pushParams(flags: PushFlags): PushParams {
  validateWorkers(flags.workers)
  const chunk = flags['chunk-mib']
  if (chunk !== undefined && (!Number.isInteger(chunk) || chunk < 1 || chunk > 1024)) {
    throw new UsageError(`--chunk-mib must be a whole number of MiB from 1 to 1024 (got ${flags['chunk-mib']}).`)
  }
  const revision = flags['hf-revision'].trim()
  if (revision === '' || /[\u0000-\u001f]/.test(revision))
    throw new UsageError('--hf-revision must be a branch, tag, 40-hex commit sha or refs/pr/N.')
  const where = target(flags)
  const alsoTags = (flags['also-tag'] ?? [])
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter(Boolean)
  return {
    hfRepo: validateHfRepo(flags['hf-repo']),
    revision,
    ...where,
    targetTag: flags['target-tag'] === undefined ? undefined : validateTag(flags['target-tag'], '--target-tag'),
    alsoTags: alsoTags.map((t) => validateTag(t, '--also-tag')),
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    workers: flags.workers,
    chunkMiB: flags['chunk-mib'],
    failFast: !flags['continue-on-error'],
    force: flags.force ?? false,
    uploadMode: (flags['upload-mode'] ?? 'auto') as UploadModeFlag,
    ...imageParams(flags),
    ...reuseParams(flags, where),
  }
}

/** --from-image (images of the same registry to mount layers from) and --split-index/--split-count. */
function reuseParams(
  flags: PushFlags,
  {registry, layout}: Pick<PushParams, 'registry' | 'layout'>,
): Pick<PushParams, 'fromImages' | 'split'> {
  if (layout && (flags['from-image'] !== undefined || flags['split-index'] !== undefined))
    throw new UsageError('--from-image and split pushes read and mount from a registry: push with --registry, or drop them with --to.')
  const fromImages = (flags['from-image'] ?? []).map((raw) => {
    const ref = parseImageReference(raw)
    if (ref.registry.host !== registry.host)
      throw new UsageError(
        `--from-image ${ref.registry.host}/${ref.repository} is on another registry than --registry ${registry.host}: layers are mounted within one registry; name an image on ${registry.host}.`,
      )
    return {repository: ref.repository, reference: ref.digest ?? ref.tag!}
  })
  const index = flags['split-index']
  const count = flags['split-count']
  if ((index === undefined) !== (count === undefined)) throw new UsageError('--split-index and --split-count go together.')
  return {
    ...(fromImages.length > 0 ? {fromImages} : {}),
    ...(index !== undefined && count !== undefined ? {split: validateSplit({index, count})} : {}),
  }
}

/** --registry and --target-repo, or --to oci:DIR (an OCI image layout on disk). */
function target(flags: PushFlags): Pick<PushParams, 'registry' | 'targetRepo' | 'layout'> {
  if (flags.to !== undefined) {
    if (flags.registry !== undefined || flags['target-repo'] !== undefined)
      throw new UsageError('--to writes the image to a directory: drop --registry and --target-repo, or drop --to.')
    if (flags['base-image'] !== undefined)
      throw new UsageError(
        '--base-image needs a registry target (its layers are copied registry to registry): push with --registry, or drop --base-image.',
      )
    if (flags['upload-mode'] !== undefined && flags['upload-mode'] !== 'auto')
      throw new UsageError('--upload-mode is for registries: a layout is always written in checkpointed appends; drop --upload-mode.')
    const dir = parseLayoutTarget(flags.to)
    return {registry: layoutEndpoint(dir), targetRepo: '', layout: dir}
  }
  const missing = [
    flags.registry === undefined ? 'missing --registry: the registry to push to, e.g. --registry host[:port]' : '',
    flags['target-repo'] === undefined ? 'missing --target-repo: the repository in the registry, e.g. --target-repo path/name' : '',
  ].filter(Boolean)
  if (missing.length > 0) throw new UsageError(`${missing.join('; ')} (or --to oci:DIR to write an OCI image layout)`)
  const registry = parseRegistry(flags.registry!)
  return {registry, targetRepo: validateRepository(flags['target-repo']!, '--target-repo', registry.host)}
}

/** --base-image, --platform, --modelpack: what the image is built on and how it is listed. */
function imageParams(flags: PushFlags): Pick<PushParams, 'baseImage' | 'platforms' | 'modelpack'> {
  const platforms = (flags.platform ?? [])
    .flatMap((v) => v.split(','))
    .map((p) => p.trim())
    .filter(Boolean)
    .map(parsePlatform)
  const baseImage = flags['base-image']?.trim()
  if (platforms.length > 0 && !baseImage) {
    throw new UsageError('--platform needs --base-image (a multi-platform base such as busybox): model layers alone suit any platform.')
  }
  if (baseImage) parseImageReference(baseImage)
  const seen = new Set(platforms.map(platformText))
  if (seen.size !== platforms.length) throw new UsageError('--platform lists the same platform twice.')
  return {
    ...(baseImage ? {baseImage} : {}),
    ...(platforms.length > 0 ? {platforms} : {}),
    ...(flags.modelpack ? {modelpack: true} : {}),
  }
}
