// Image config and manifest, serialised canonically (sorted keys, no spaces)
// so the same layers always give the same manifest digest.
import {createHash} from 'node:crypto'

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const

export const ANNOTATION = {
  title: 'org.opencontainers.image.title',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  contentSha256: 'dev.modelcar.content.sha256',
  hfRepo: 'dev.modelcar.hf.repo',
} as const

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

export interface LayerRecord {
  path: string
  digest: string
  size: number
  contentSha256: string
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

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** Layers sorted by repo path: the image does not depend on upload order. */
export function sortLayers<T extends {path: string}>(layers: T[]): T[] {
  return [...layers].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
}

export function buildImage(layers: LayerRecord[], source: {hfRepo: string; repoUrl: string; sha: string}): {
  config: Buffer; configDigest: string; manifest: Buffer; manifestDigest: string
} {
  const sorted = sortLayers(layers)
  const config = Buffer.from(canonicalJson({
    architecture: 'amd64',
    config: {},
    os: 'linux',
    rootfs: {diff_ids: sorted.map((l) => l.digest), type: 'layers'},
  }))
  const configDigest = sha256Digest(config)
  const manifest = Buffer.from(canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: {mediaType: MEDIA.config, digest: configDigest, size: config.length},
    layers: sorted.map((l) => ({
      mediaType: MEDIA.layerTar,
      digest: l.digest,
      size: l.size,
      annotations: {[ANNOTATION.title]: l.path, [ANNOTATION.contentSha256]: l.contentSha256},
    })),
    annotations: {
      [ANNOTATION.source]: source.repoUrl,
      [ANNOTATION.revision]: source.sha,
      [ANNOTATION.hfRepo]: source.hfRepo,
    },
  }))
  return {config, configDigest, manifest, manifestDigest: sha256Digest(manifest)}
}
