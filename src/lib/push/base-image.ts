// --base-image: resolve the base to a digest before anything moves (so a
// resumed or repeated push builds on the very same bytes), read each wanted
// platform's manifest and config, and later bring its layers into the target
// repository: already there, mounted within the same registry, or streamed
// registry to registry (never on disk; the registry and we both check the digest).
import {createHash} from 'node:crypto'
import {registryClient, type NetworkOptions} from '../clients.js'
import {ModelcarError, UsageError} from '../errors.js'
import {BlobReader} from '../oci/blob-reader.js'
import type {RegistryClient} from '../oci/client.js'
import {digestOf, shortDigest} from '../oci/digest.js'
import type {BaseImage, BasePlatform, HistoryEntry, Platform} from '../oci/image.js'
import {platformText} from '../oci/image.js'
import {parseManifest} from '../oci/manifest-parse.js'
import {parseImageReference} from '../oci/reference.js'
import {IMAGE_CONFIG_TYPES, MEDIA, type Descriptor, type ParsedManifest} from '../oci/types.js'

const MAX_CONFIG = 4 * 1024 * 1024
/** A base without --platform: the platform most model servers run on. */
export const DEFAULT_PLATFORM: Platform = {os: 'linux', architecture: 'amd64'}

/** Docker's layer media types as their OCI equivalents (same bytes, same digest). */
const OCI_LAYER: Record<string, string> = {
  [MEDIA.dockerLayerTar]: MEDIA.layerTar,
  [MEDIA.dockerLayerTarGzip]: MEDIA.layerTarGzip,
  'application/vnd.docker.image.rootfs.diff.tar.zstd': MEDIA.layerTarZstd,
}
const COPYABLE: ReadonlySet<string> = new Set([MEDIA.layerTar, MEDIA.layerTarGzip, MEDIA.layerTarZstd])

export interface ResolvedBase {
  image: BaseImage
  reader: BlobReader
  /** The base lives in the target registry: its blobs can be mounted. */
  sameRegistry: boolean
  repository: string
}

/**
 * The base image named `ref` (pinned to `pinned` when a run recorded it), with
 * the manifest and config of each of `platforms` (or of its only image).
 */
export async function resolveBaseImage(
  ref: string,
  pinned: string | undefined,
  platforms: Platform[] | undefined,
  targetBaseUrl: string,
  net: NetworkOptions,
): Promise<ResolvedBase> {
  const parsed = parseImageReference(ref)
  const name = `${parsed.registry.display}/${parsed.repository}${parsed.tag ? `:${parsed.tag}` : ''}`
  const client = await registryClient(parsed.registry, parsed.repository, net)
  const reader = new BlobReader(client)
  const wanted = pinned ?? parsed.digest ?? parsed.tag!
  const top = await fetchManifest(reader, wanted, name)
  if (pinned && top.digest !== pinned) throw baseError(`The base image ${name} served ${top.digest} for ${pinned}.`)
  let chosen: BasePlatform[]
  if (top.manifest.kind === 'manifest') {
    if (platforms && platforms.length > 1) {
      const asked = platforms.map(platformText).join(',')
      throw new UsageError(`--platform ${asked} needs a multi-platform base image; ${name} is a single image.`)
    }
    const one = await readPlatform(reader, top.manifest, top.digest, name)
    if (platforms?.length === 1 && platformText(platforms[0]) !== platformText(one.platform)) {
      throw new UsageError(`The base image ${name} is ${platformText(one.platform)}, not ${platformText(platforms[0])}.`)
    }
    chosen = [one]
  } else {
    const index = top.manifest
    const want = platforms ?? [DEFAULT_PLATFORM]
    chosen = []
    for (const p of want) {
      const entry = index.manifests.find((d) => samePlatform(d, p))
      if (!entry) {
        const offered = index.manifests
          .map((d) => d.platform && platformText(d.platform as Platform))
          .filter(Boolean)
          .join(', ')
        const why = `The base image ${name} has no ${platformText(p)} image (it offers ${offered || 'none'})`
        throw new UsageError(`${why}: pick --platform among them.`)
      }
      const child = await fetchManifest(reader, entry.digest, name)
      if (child.manifest.kind !== 'manifest') throw baseError(`The base image ${name} nests an index for ${platformText(p)}.`)
      chosen.push(await readPlatform(reader, child.manifest, child.digest, name))
    }
  }
  return {
    image: {name, digest: top.digest, platforms: chosen},
    reader,
    sameRegistry: parsed.registry.baseUrl === targetBaseUrl,
    repository: parsed.repository,
  }
}

function samePlatform(d: Descriptor, p: Platform): boolean {
  const dp = d.platform
  return dp?.os === p.os && dp?.architecture === p.architecture && (p.variant === undefined || dp?.variant === p.variant)
}

async function fetchManifest(reader: BlobReader, reference: string, name: string): Promise<{digest: string; manifest: ParsedManifest}> {
  const fetched = await reader.manifest(reference)
  if (!fetched) throw new UsageError(`The base image ${name} has no manifest ${reference} (404): check --base-image.`, 'E_BASE_IMAGE')
  const digest = digestOf(fetched.body)
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw baseError(`The base image ${name} served bytes that hash to ${digest} for ${reference}.`)
  }
  const parsed = parseManifest(fetched.body, fetched.contentType)
  if (!parsed.manifest || parsed.problems.length > 0) {
    throw baseError(`The base image ${name}@${shortDigest(digest)} is malformed: ${parsed.problems.join('; ')}.`)
  }
  return {digest, manifest: parsed.manifest}
}

type ImageManifest = Extract<ParsedManifest, {kind: 'manifest'}>

async function readPlatform(reader: BlobReader, manifest: ImageManifest, digest: string, name: string): Promise<BasePlatform> {
  const bad = (why: string) => baseError(`The base image ${name}@${shortDigest(digest)} ${why}.`)
  if (!manifest.config || !IMAGE_CONFIG_TYPES.has(manifest.config.mediaType)) throw bad('is not a container image (no image config)')
  if (manifest.config.size > MAX_CONFIG) throw bad(`has a config over ${MAX_CONFIG} bytes`)
  const bytes = await readBlob(reader, manifest.config.digest, MAX_CONFIG)
  if (digestOf(bytes) !== manifest.config.digest) throw bad('has a config whose bytes do not match its digest')
  let config: {
    os?: string
    architecture?: string
    variant?: string
    config?: Record<string, unknown>
    rootfs?: {diff_ids?: string[]}
    history?: HistoryEntry[]
  }
  try {
    config = JSON.parse(bytes.toString('utf8')) as typeof config
  } catch {
    throw bad('has a config that is not JSON')
  }
  const diffIds = config.rootfs?.diff_ids ?? []
  if (diffIds.length !== manifest.layers.length) throw bad(`lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`)
  const layers = manifest.layers.map((d) => {
    const mediaType = OCI_LAYER[d.mediaType] ?? d.mediaType
    if (!COPYABLE.has(mediaType)) throw bad(`has a layer of media type ${d.mediaType}, which modelcar does not copy`)
    return {...d, mediaType, annotations: {}}
  })
  if (!config.os || !config.architecture) throw bad('has a config without os and architecture')
  return {
    platform: {os: config.os, architecture: config.architecture, ...(config.variant ? {variant: config.variant} : {})},
    manifestDigest: digest,
    layers,
    diffIds,
    runtime: config.config ?? {},
    history: Array.isArray(config.history) ? config.history : [],
  }
}

async function readBlob(reader: BlobReader, digest: string, max: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of reader.stream(digest)) {
    size += chunk.length
    if (size > max) throw baseError(`blob ${shortDigest(digest)} is over ${max} bytes`)
    parts.push(chunk)
  }
  return Buffer.concat(parts)
}

function baseError(message: string): ModelcarError {
  return new ModelcarError(message, {code: 'E_BASE_IMAGE'})
}

export type BaseBlobOutcome = 'exists' | 'mounted' | 'copied'

/** Every base layer of every platform, once, into the target repository. */
export async function copyBaseLayers(
  base: ResolvedBase,
  target: RegistryClient,
  opts: {signal?: AbortSignal; onBlob?: (d: Descriptor, outcome: BaseBlobOutcome) => void} = {},
): Promise<void> {
  const unique = new Map<string, Descriptor>()
  for (const p of base.image.platforms) for (const d of p.layers) unique.set(d.digest, d)
  for (const d of unique.values()) {
    opts.signal?.throwIfAborted()
    const found = await target.headBlob(d.digest)
    if (found && found.size === d.size) {
      opts.onBlob?.(d, 'exists')
      continue
    }
    if (base.sameRegistry && (await target.mountBlob(d.digest, base.repository).catch(() => false))) {
      await target.checkBlob(d.digest, d.size)
      opts.onBlob?.(d, 'mounted')
      continue
    }
    await streamBlob(base.reader, target, d, opts.signal)
    opts.onBlob?.(d, 'copied')
  }
}

/** Registry to registry in one streamed PUT: the digest is known, so the upload is monolithic. */
async function streamBlob(reader: BlobReader, target: RegistryClient, d: Descriptor, signal?: AbortSignal): Promise<void> {
  const what = `copy base layer ${shortDigest(d.digest)}`
  await target.transport.withRetries(
    async () => {
      const {location} = await target.startUpload()
      const source = reader.stream(d.digest, signal)[Symbol.asyncIterator]()
      const hash = createHash('sha256')
      let rest: Buffer = Buffer.alloc(0)
      let seen = 0
      const pull = async (max: number): Promise<Buffer> => {
        if (rest.length === 0) {
          const next = await source.next()
          if (next.done) throw baseError(`${what}: the base registry sent ${seen} of ${d.size} bytes`)
          rest = next.value
        }
        const piece = rest.subarray(0, max)
        rest = rest.subarray(piece.length)
        hash.update(piece)
        seen += piece.length
        return piece
      }
      try {
        await target.putStream(location, d.digest, d.size, pull, signal)
      } catch (error) {
        await target.cancelUpload(location).catch(() => undefined)
        throw error
      } finally {
        await source.return?.(undefined)
      }
      const actual = `sha256:${hash.digest('hex')}`
      if (actual !== d.digest) throw baseError(`${what}: the bytes hash to ${actual}`)
      await target.checkBlob(d.digest, d.size)
    },
    {what, signal},
  )
}
