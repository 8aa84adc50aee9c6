// Image config and manifest, serialised canonically (sorted keys, no spaces)
// so the same layers always give the same manifest digest.
import {digestOf} from './digest.js'
import {ANNOTATION, MEDIA} from './types.js'

export interface LayerRecord {
  path: string
  digest: string
  size: number
  contentSha256: string
  /** The Hub's git blob id, for files not stored in LFS (their only Hub-side identity). */
  gitBlobId?: string
}

/** The annotations of a model layer: its file, its content, and for non-LFS files its git blob id. */
export function layerAnnotations(l: LayerRecord): Record<string, string> {
  return {
    [ANNOTATION.title]: l.path,
    [ANNOTATION.contentSha256]: l.contentSha256,
    ...(l.gitBlobId ? {[ANNOTATION.gitBlob]: l.gitBlobId} : {}),
  }
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Layers sorted by repo path: the image does not depend on upload order. */
export function sortLayers<T extends {path: string}>(layers: T[]): T[] {
  return [...layers].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
}

/** The image annotations naming where the model comes from. */
export function sourceAnnotations(source: {hfRepo: string; repoUrl: string; sha: string}): Record<string, string> {
  return {[ANNOTATION.source]: source.repoUrl, [ANNOTATION.revision]: source.sha, [ANNOTATION.hfRepo]: source.hfRepo}
}

/** A model layer's descriptor: an uncompressed tar (or `mediaType`), annotated with its file. */
export function modelLayerDescriptor(l: LayerRecord, mediaType: string = MEDIA.layerTar, extra: Record<string, string> = {}) {
  const annotations = {...layerAnnotations(l), ...extra}
  return {mediaType, digest: l.digest, size: l.size, annotations}
}

export interface SerializedImage {
  config: Buffer
  configDigest: string
  manifest: Buffer
  manifestDigest: string
}

/** A config object and the manifest over it, serialised canonically, with their digests. */
export function serializeImage(config: object, layers: object[], annotations: Record<string, string>): SerializedImage {
  const configBytes = Buffer.from(canonicalJson(config))
  const configDigest = digestOf(configBytes)
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: {mediaType: MEDIA.config, digest: configDigest, size: configBytes.length},
      layers,
      annotations,
    }),
  )
  return {config: configBytes, configDigest, manifest, manifestDigest: digestOf(manifest)}
}

/** The image without a base (FROM scratch): model layers only. */
export function buildImage(layers: LayerRecord[], source: {hfRepo: string; repoUrl: string; sha: string}): SerializedImage {
  const sorted = sortLayers(layers)
  const config = {architecture: 'amd64', config: {}, os: 'linux', rootfs: {diff_ids: sorted.map((l) => l.digest), type: 'layers'}}
  return serializeImage(
    config,
    sorted.map((l) => modelLayerDescriptor(l)),
    sourceAnnotations(source),
  )
}
