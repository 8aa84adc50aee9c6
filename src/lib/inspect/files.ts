// The service behind `modelcar ls`: the files a modelcar image carries, read
// from its manifest alone (no blob is fetched): each layer's file name
// (org.opencontainers.image.title), content sha256 (dev.modelcar.content.sha256),
// layer digest and size. An index lists each platform's image; layers without
// a file name are listed apart, so an image modelcar did not push says so.
import {registryClient} from '../clients.js'
import {ModelcarError} from '../errors.js'
import {BlobReader, type ImageSource} from '../oci/blob-reader.js'
import {LayoutReader} from '../oci/layout-reader.js'
import {digestOf, shortDigest} from '../oci/digest.js'
import {parseManifest} from '../oci/manifest-parse.js'
import {referenceText, type ImageReference} from '../oci/reference.js'
import {ANNOTATION, platformOf, type Descriptor, type ParsedManifest} from '../oci/types.js'

export interface ImageFileEntry {
  path: string
  /** Bytes of the layer: the file with its tar headers and padding (the manifest does not record the file size). */
  layerSize: number
  sha256: string | null
  layerDigest: string
  /** dev.modelcar.git.blob: the Hub's git blob id of a file not stored in LFS. */
  gitBlobId?: string
}

export interface UnnamedLayer {
  digest: string
  size: number
  mediaType: string
}

export interface ListedImage {
  manifestDigest: string
  platform?: string
  /** dev.modelcar.hf.repo and org.opencontainers.image.revision, when the image names them. */
  hfRepo?: string
  revision?: string
  files: ImageFileEntry[]
  unnamedLayers: UnnamedLayer[]
}

export interface LsResult {
  reference: string
  manifestDigest: string
  mediaType: string
  images: ListedImage[]
}

export interface LsParams {
  reference: ImageReference
  maxRetries?: number
  stallTimeoutS?: number
}

export async function listImageFiles(params: LsParams, env: NodeJS.ProcessEnv = process.env): Promise<LsResult> {
  const ref = params.reference
  const display = referenceText(ref)
  const net = {maxRetries: params.maxRetries, stallTimeoutS: params.stallTimeoutS, env}
  const reader: ImageSource = ref.layout
    ? new LayoutReader(ref.layout)
    : new BlobReader(await registryClient(ref.registry, ref.repository, net))
  const top = await readManifest(reader, ref.digest ?? ref.tag!, display)
  const images: ListedImage[] = []
  if (top.manifest.kind === 'manifest') {
    images.push(listed(top.digest, top.manifest))
  } else {
    for (const d of top.manifest.manifests) {
      const child = await readManifest(reader, d.digest, `${display} (${platformOf(d) ?? shortDigest(d.digest)})`)
      if (child.manifest.kind !== 'manifest') continue // a nested index: not a platform image
      const platform = platformOf(d)
      images.push(listed(d.digest, child.manifest, platform, top.manifest.annotations))
    }
  }
  return {reference: display, manifestDigest: top.digest, mediaType: top.manifest.mediaType, images}
}

/** A manifest or index by tag or digest, parsed; its digest computed from the bytes served. */
export async function readManifest(
  reader: ImageSource,
  reference: string,
  what: string,
): Promise<{digest: string; manifest: ParsedManifest}> {
  const fetched = await reader.manifest(reference)
  if (!fetched) {
    const shown = reference.startsWith('sha') ? shortDigest(reference) : reference
    throw new ModelcarError(`${what} does not exist: the registry has no manifest ${shown} (404).`, {code: 'E_NO_MANIFEST'})
  }
  const parsed = parseManifest(fetched.body, fetched.contentType)
  if (!parsed.manifest) {
    const why = parsed.problems[0] ?? 'unreadable'
    throw new ModelcarError(`${what} is not an image manifest or index: ${why}.`, {code: 'E_MANIFEST_MALFORMED'})
  }
  const algorithm = (reference.startsWith('sha') ? reference : (fetched.digest ?? 'sha256')).split(':')[0]
  return {digest: digestOf(fetched.body, algorithm), manifest: parsed.manifest}
}

export type ImageManifest = Extract<ParsedManifest, {kind: 'manifest'}>

/** One image manifest as rows of files (layers named by org.opencontainers.image.title) and unnamed layers. */
export function listed(digest: string, m: ImageManifest, platform?: string, parent: Record<string, string> = {}): ListedImage {
  const annotations = {...parent, ...m.annotations}
  const files: ImageFileEntry[] = []
  const unnamedLayers: UnnamedLayer[] = []
  for (const l of m.layers) {
    const title = l.annotations[ANNOTATION.title]
    if (title === undefined || title === '') unnamedLayers.push(unnamed(l))
    else {
      const gitBlobId = l.annotations[ANNOTATION.gitBlob]
      const sha256 = l.annotations[ANNOTATION.contentSha256] ?? null
      files.push({path: title, layerSize: l.size, sha256, layerDigest: l.digest, ...(gitBlobId ? {gitBlobId} : {})})
    }
  }
  return {
    manifestDigest: digest,
    ...(platform ? {platform} : {}),
    ...(annotations[ANNOTATION.hfRepo] ? {hfRepo: annotations[ANNOTATION.hfRepo]} : {}),
    ...(annotations[ANNOTATION.revision] ? {revision: annotations[ANNOTATION.revision]} : {}),
    files,
    unnamedLayers,
  }
}

function unnamed(l: Descriptor): UnnamedLayer {
  return {digest: l.digest, size: l.size, mediaType: l.mediaType}
}
