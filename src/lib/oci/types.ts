// The OCI (and Docker) vocabulary every module speaks: media types,
// annotation keys, descriptors and parsed manifests. Building manifests is
// manifest.ts, reading them is manifest-parse.ts.

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTarZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  layerTarNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerTarForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  dockerLayerTarGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const

/** Every manifest type we read, OCI first: the Accept list of a manifest GET. */
export const MANIFEST_TYPES: readonly string[] = [MEDIA.manifest, MEDIA.index, MEDIA.dockerManifest, MEDIA.dockerList]
export const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA.index, MEDIA.dockerList])
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA.manifest, MEDIA.dockerManifest])
export const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([MEDIA.config, MEDIA.dockerConfig])
/** Tar layer types before any +gzip/+zstd (or Docker's .gzip) suffix. */
export const TAR_LAYER_TYPES: ReadonlySet<string> = new Set([
  MEDIA.layerTar,
  MEDIA.layerTarNondistributable,
  MEDIA.dockerLayerTar,
  MEDIA.dockerLayerTarForeign,
])

export const ANNOTATION = {
  title: 'org.opencontainers.image.title',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  contentSha256: 'dev.modelcar.content.sha256',
  /** git blob id (sha1) of a file not stored in LFS: what a later push matches it on. */
  gitBlob: 'dev.modelcar.git.blob',
  hfRepo: 'dev.modelcar.hf.repo',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
} as const

/** A content descriptor; `annotations` is empty when the JSON has none. */
export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations: Record<string, string>
  urls?: string[]
  platform?: {os?: string; architecture?: string; variant?: string}
}

export type ParsedManifest =
  | {kind: 'manifest'; mediaType: string; config?: Descriptor; layers: Descriptor[]; annotations: Record<string, string>}
  | {kind: 'index'; mediaType: string; manifests: Descriptor[]; annotations: Record<string, string>}

/** os/arch[/variant] of an index entry, or undefined when it names no platform. */
export function platformOf(d: Descriptor): string | undefined {
  const p = d.platform
  if (!p?.os && !p?.architecture) return undefined
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/')
}
