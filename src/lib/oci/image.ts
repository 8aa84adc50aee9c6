// Images on top of a base image, and the index over several of them. Same
// rules as manifest.ts (canonical JSON, no timestamps): the same revision and
// the same base digest always give the same digests. A push without a base
// image never comes here, so its bytes stay those of manifest.ts.
import {UsageError} from '../errors.js'
import {digestOf} from './digest.js'
import {
  canonicalJson,
  modelLayerDescriptor,
  serializeImage,
  sortLayers,
  sourceAnnotations,
  type LayerRecord,
  type SerializedImage,
} from './manifest.js'
import {ANNOTATION, MEDIA, type Descriptor} from './types.js'

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

export interface HistoryEntry {
  created?: string
  created_by?: string
  comment?: string
  author?: string
  empty_layer?: boolean
}

/** One platform of a base image, pinned by its manifest digest. */
export interface BasePlatform {
  platform: Platform
  /** Digest of this platform's image manifest. */
  manifestDigest: string
  /** Layer descriptors in order, OCI media types, bytes as the base has them. */
  layers: Descriptor[]
  /** rootfs.diff_ids of the base config (a gzip layer's is its uncompressed digest). */
  diffIds: string[]
  /** The base config's `config` object (Env, Cmd, …). */
  runtime: Record<string, unknown>
  history: HistoryEntry[]
}

export interface BaseImage {
  /** registry/repository:tag as the user named it (no digest). */
  name: string
  /** Digest of what the name resolved to: a manifest, or an index. */
  digest: string
  platforms: BasePlatform[]
}

export interface ImageSource {
  hfRepo: string
  repoUrl: string
  sha: string
}

export interface BuiltImage extends SerializedImage {
  platform?: Platform
}

/** What a container needs to start: kept from the base config, nothing else. */
const RUNTIME_KEYS = ['Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'User'] as const

/** The model layers over one platform of the base: base layers first, its runtime settings kept. */
export function buildBasedImage(layers: LayerRecord[], source: ImageSource, base: BaseImage, platform: BasePlatform): BuiltImage {
  const sorted = sortLayers(layers)
  const runtime: Record<string, unknown> = {}
  for (const key of RUNTIME_KEYS) if (platform.runtime[key] !== undefined) runtime[key] = platform.runtime[key]
  const config = {
    architecture: platform.platform.architecture,
    config: runtime,
    history: [
      ...baseHistory(base, platform),
      ...sorted.map((l) => ({created_by: `modelcar: models/${l.path}`, comment: `${source.hfRepo}@${source.sha}`})),
    ],
    os: platform.platform.os,
    rootfs: {diff_ids: [...platform.diffIds, ...sorted.map((l) => l.digest)], type: 'layers'},
    variant: platform.platform.variant,
  }
  const layerDescriptors = [
    ...platform.layers.map((d) => ({mediaType: d.mediaType, digest: d.digest, size: d.size})),
    ...sorted.map((l) => modelLayerDescriptor(l)),
  ]
  const annotations = {...sourceAnnotations(source), [ANNOTATION.baseName]: base.name, [ANNOTATION.baseDigest]: platform.manifestDigest}
  return {...serializeImage(config, layerDescriptors, annotations), platform: platform.platform}
}

/**
 * The base's own history when it accounts for every base layer; otherwise
 * one entry per base layer, naming the base.
 */
function baseHistory(base: BaseImage, platform: BasePlatform): HistoryEntry[] {
  const withLayers = platform.history.filter((h) => !h.empty_layer).length
  if (withLayers === platform.layers.length) return platform.history
  return platform.layers.map(() => ({created_by: `base image ${base.name}@${platform.manifestDigest}`}))
}

export interface IndexEntry {
  manifest: Buffer
  digest: string
  platform?: Platform
  artifactType?: string
}

/** An OCI image index over the given manifests, in the order given. */
export function buildIndex(entries: IndexEntry[], annotations: Record<string, string>): {index: Buffer; digest: string} {
  const index = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: entries.map((e) => ({
        mediaType: MEDIA.manifest,
        digest: e.digest,
        size: e.manifest.length,
        ...(e.platform ? {platform: e.platform} : {}),
        ...(e.artifactType ? {artifactType: e.artifactType} : {}),
      })),
      annotations,
    }),
  )
  return {index, digest: digestOf(index)}
}

/** `os/arch[/variant]` (the --platform flag) as a Platform. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new UsageError(`--platform ${JSON.stringify(text)} is not os/arch[/variant]: e.g. linux/amd64,linux/arm64.`)
  }
  return {os: parts[0], architecture: parts[1], ...(parts[2] ? {variant: parts[2]} : {})}
}

export function platformText(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/')
}
