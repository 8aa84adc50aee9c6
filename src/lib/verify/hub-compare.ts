// --against-hf: the Hub commit recorded in the image against the files the
// image carries. Pure functions: where the image says it came from, what
// files it holds, and how they compare with the Hub's listing.
import type {HubFile} from '../hf/client.js'
import {quoteInput as q} from '../errors.js'
import {hfRepoProblem, hfRevisionProblem, validateHfRepo} from '../hf/repo.js'
import {MODELS_DIR, layerSize} from '../layer/tar.js'
import {ANNOTATION, type Descriptor} from '../oci/types.js'
import type {LayerScan} from './layer-scan.js'
import {layerCompression} from './layer-scan.js'
import type {HubFileReport, ScannedFile} from './types.js'

export interface Provenance {
  repo: string
  revision: string
}

/**
 * The Hub repo and revision an image says it was built from, or why it says
 * nothing usable. Annotations are whatever the image's author wrote: they are
 * validated as --hf-repo and --hf-revision are before any Hub request uses them.
 */
export function provenance(annotations: Record<string, string>, endpoint: URL): Provenance | {error: string} {
  const annotated = annotations[ANNOTATION.hfRepo]
  const repo = annotated ?? repoFromSource(annotations[ANNOTATION.source], endpoint)
  const revision = annotations[ANNOTATION.revision]
  if (annotated !== undefined) {
    const problem = hfRepoProblem(annotated)
    if (problem) return {error: `annotation ${ANNOTATION.hfRepo} ${q(annotated)} is not a Hub repo id (${problem}): the Hub was not asked`}
  }
  if (!repo) return {error: `the manifest names no Hub repo (${ANNOTATION.hfRepo}, or a Hub URL in ${ANNOTATION.source})`}
  if (!revision) return {error: `the manifest names no revision (${ANNOTATION.revision})`}
  const problem = hfRevisionProblem(revision)
  if (problem) {
    return {error: `annotation ${ANNOTATION.revision} ${q(revision)} is not a commit sha or ref (${problem}): the Hub was not asked`}
  }
  return {repo, revision}
}

/** 'https://huggingface.co/org/name' → 'org/name' (also under a mirror's path prefix). */
export function repoFromSource(source: string | undefined, endpoint: URL): string | undefined {
  if (!source) return undefined
  let url: URL
  try {
    url = new URL(source)
  } catch {
    return undefined
  }
  const base = endpoint.pathname.replace(/\/+$/, '')
  let path = url.pathname
  if (url.origin === endpoint.origin && base !== '' && path.startsWith(`${base}/`)) path = path.slice(base.length)
  const candidate = path.replace(/^\/+|\/+$/g, '').replace(/^models\//, '')
  try {
    return validateHfRepo(candidate)
  } catch {
    return undefined
  }
}

export interface ImageFile {
  path: string
  layer: Descriptor
  contentSha256?: string
  /** The file as found in the tar by --deep. */
  tar?: ScannedFile
}

/** Files the image carries: one per titled layer, or what --deep found under models/ in untitled layers. */
export function imageFiles(layers: Descriptor[], scans: Map<string, LayerScan>): Map<string, ImageFile> {
  const out = new Map<string, ImageFile>()
  for (const layer of layers) {
    const scan = scans.get(layer.digest)
    const title = layer.annotations[ANNOTATION.title]
    const contentSha256 = layer.annotations[ANNOTATION.contentSha256]
    if (title !== undefined) {
      const tar = scan?.files.find((f) => f.path === `${MODELS_DIR}/${title}`)
      out.set(title, {path: title, layer, ...(contentSha256 ? {contentSha256} : {}), ...(tar ? {tar} : {})})
      continue
    }
    for (const f of scan?.files ?? []) {
      if (f.path.startsWith(`${MODELS_DIR}/`))
        out.set(f.path.slice(MODELS_DIR.length + 1), {path: f.path.slice(MODELS_DIR.length + 1), layer, tar: f})
    }
  }
  return out
}

export function compareWithHub(hubFiles: HubFile[], image: Map<string, ImageFile>, keep: (path: string) => boolean): HubFileReport[] {
  const reports: HubFileReport[] = []
  const listed = new Set<string>()
  for (const hub of hubFiles) {
    listed.add(hub.path)
    const file = image.get(hub.path)
    if (!keep(hub.path)) {
      if (file) reports.push({path: hub.path, result: 'unexpected', detail: 'excluded by --include/--exclude', layer: file.layer.digest})
      continue
    }
    if (!file) {
      reports.push({path: hub.path, result: 'missing from image', detail: `${hub.size} bytes on the Hub`})
      continue
    }
    reports.push({path: hub.path, layer: file.layer.digest, ...compareFile(hub, file)})
  }
  for (const file of image.values()) {
    if (!listed.has(file.path))
      reports.push({path: file.path, result: 'unexpected', detail: 'not in the Hub commit', layer: file.layer.digest})
  }
  return reports.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function compareFile(hub: HubFile, file: ImageFile): Pick<HubFileReport, 'result' | 'detail'> {
  if (file.tar && file.tar.size !== hub.size) {
    return {result: 'size mismatch', detail: `the image has ${file.tar.size} bytes, the Hub ${hub.size}`}
  }
  if (!file.tar && layerCompression(file.layer.mediaType) === 'none') {
    const expected = safeLayerSize(hub.path, hub.size)
    if (expected !== undefined && expected !== file.layer.size) {
      return {result: 'size mismatch', detail: `the layer is ${file.layer.size} bytes, a ${hub.size}-byte file makes ${expected}`}
    }
  }
  if (hub.lfsSha256) {
    for (const [what, sha] of [
      ['annotation', file.contentSha256],
      ['file in the layer', file.tar?.sha256],
    ] as const) {
      if (sha !== undefined && sha !== hub.lfsSha256)
        return {result: 'sha256 mismatch', detail: `${what} ${sha.slice(0, 12)}…, the Hub (LFS) ${hub.lfsSha256.slice(0, 12)}…`}
    }
  } else if (file.tar?.gitOid && hub.oid && file.tar.gitOid !== hub.oid) {
    return {result: 'content mismatch', detail: `git blob id ${file.tar.gitOid.slice(0, 12)}…, the Hub ${hub.oid.slice(0, 12)}…`}
  }
  return {result: 'ok'}
}

function safeLayerSize(path: string, size: number): number | undefined {
  try {
    return layerSize(path, size)
  } catch {
    return undefined
  }
}
