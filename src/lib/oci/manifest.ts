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

export function buildImage(
  layers: LayerRecord[],
  source: {hfRepo: string; repoUrl: string; sha: string},
): {
  config: Buffer
  configDigest: string
  manifest: Buffer
  manifestDigest: string
} {
  const sorted = sortLayers(layers)
  const config = Buffer.from(
    canonicalJson({
      architecture: 'amd64',
      config: {},
      os: 'linux',
      rootfs: {diff_ids: sorted.map((l) => l.digest), type: 'layers'},
    }),
  )
  const configDigest = digestOf(config)
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: {mediaType: MEDIA.config, digest: configDigest, size: config.length},
      layers: sorted.map((l) => ({
        mediaType: MEDIA.layerTar,
        digest: l.digest,
        size: l.size,
        annotations: layerAnnotations(l),
      })),
      annotations: {
        [ANNOTATION.source]: source.repoUrl,
        [ANNOTATION.revision]: source.sha,
        [ANNOTATION.hfRepo]: source.hfRepo,
      },
    }),
  )
  return {config, configDigest, manifest, manifestDigest: digestOf(manifest)}
}
