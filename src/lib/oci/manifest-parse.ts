// Reads a manifest (or index) from the exact bytes a registry served: what
// later checks need, plus one message per way it is not well formed.
// Descriptors whose digest or size is unusable are reported and left out.
import {DIGEST_RE} from './digest.js'
import {IMAGE_MANIFEST_TYPES, INDEX_TYPES, MEDIA, type Descriptor, type ParsedManifest} from './types.js'

export interface ManifestParse {
  manifest?: ParsedManifest
  problems: string[]
}

export function parseManifest(bytes: Buffer, contentType: string): ManifestParse {
  const problems: string[] = []
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    return {problems: ['not valid JSON']}
  }
  if (!isObject(doc)) return {problems: ['not a JSON object']}
  if (doc.schemaVersion !== 2) problems.push(`schemaVersion is ${JSON.stringify(doc.schemaVersion)}, not 2`)
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined
  if (doc.mediaType !== undefined && declared === undefined) problems.push('mediaType is not a string')
  const known = (t: string | undefined) => t !== undefined && (INDEX_TYPES.has(t) || IMAGE_MANIFEST_TYPES.has(t))
  if (declared && known(contentType) && declared !== contentType)
    problems.push(`it says mediaType ${declared} but the registry serves it as ${contentType}`)
  const mediaType = declared ?? (known(contentType) ? contentType : undefined)
  const isIndex = mediaType ? INDEX_TYPES.has(mediaType) : 'manifests' in doc && !('config' in doc)
  const isImage = mediaType ? IMAGE_MANIFEST_TYPES.has(mediaType) : 'config' in doc
  if (mediaType?.startsWith('application/vnd.docker.') && declared === undefined)
    problems.push('a Docker manifest must state its mediaType')
  const annotations = stringMap(doc.annotations, 'annotations', problems)

  if (isIndex) {
    const manifests = descriptors(doc.manifests, 'manifests', problems, true)
    if (!Array.isArray(doc.manifests)) problems.push('an index needs a "manifests" array')
    return {manifest: {kind: 'index', mediaType: mediaType ?? MEDIA.index, manifests, annotations}, problems}
  }
  if (!isImage) {
    problems.push(
      mediaType ? `unknown manifest media type ${mediaType}` : 'neither an image manifest nor an index (no mediaType, config or manifests)',
    )
    return {problems}
  }
  const config = isObject(doc.config) ? descriptor(doc.config, 'config', problems) : undefined
  if (!isObject(doc.config)) problems.push('an image manifest needs a "config" descriptor')
  if (!Array.isArray(doc.layers)) problems.push('an image manifest needs a "layers" array')
  const layers = descriptors(doc.layers, 'layers', problems, false)
  return {manifest: {kind: 'manifest', mediaType: mediaType ?? MEDIA.manifest, config, layers, annotations}, problems}
}

function descriptors(value: unknown, field: string, problems: string[], withPlatform: boolean): Descriptor[] {
  if (!Array.isArray(value)) return []
  const out: Descriptor[] = []
  value.forEach((item, i) => {
    if (!isObject(item)) {
      problems.push(`${field}[${i}] is not an object`)
      return
    }
    const d = descriptor(item, `${field}[${i}]`, problems)
    if (!d) return
    if (withPlatform && isObject(item.platform)) {
      const p = item.platform
      d.platform = {
        ...(typeof p.os === 'string' ? {os: p.os} : {}),
        ...(typeof p.architecture === 'string' ? {architecture: p.architecture} : {}),
        ...(typeof p.variant === 'string' ? {variant: p.variant} : {}),
      }
    }
    out.push(d)
  })
  return out
}

function descriptor(item: Record<string, unknown>, where: string, problems: string[]): Descriptor | undefined {
  const validDigest = typeof item.digest === 'string' && DIGEST_RE.test(item.digest)
  const validSize = typeof item.size === 'number' && Number.isSafeInteger(item.size) && item.size >= 0
  if (typeof item.mediaType !== 'string' || item.mediaType === '') problems.push(`${where} has no mediaType`)
  if (!validDigest) problems.push(`${where} has no valid digest (${String(JSON.stringify(item.digest)).slice(0, 80)})`)
  if (!validSize) problems.push(`${where} has no valid size (${String(JSON.stringify(item.size))})`)
  const annotations = stringMap(item.annotations, `${where}.annotations`, problems)
  const urls = Array.isArray(item.urls) ? item.urls.filter((u): u is string => typeof u === 'string') : undefined
  if (!validDigest || !validSize) return undefined
  return {
    mediaType: typeof item.mediaType === 'string' ? item.mediaType : '',
    digest: item.digest as string,
    size: item.size as number,
    annotations,
    ...(urls?.length ? {urls} : {}),
  }
}

function stringMap(value: unknown, where: string, problems: string[]): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (!isObject(value)) {
    problems.push(`${where} is not an object`)
    return {}
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out[k] = v
    else problems.push(`${where}["${k}"] is not a string`)
  }
  return out
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
