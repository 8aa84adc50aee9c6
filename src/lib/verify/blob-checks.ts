// The checks of one image manifest's blobs: HEAD each (present, digest,
// length), read the config (digest, rootfs.diff_ids against the layers), and
// with --deep stream every layer (digest, size, diff_id, tar, file contents
// against dev.modelcar.content.sha256, hygiene). A digest shared by several
// descriptors or platforms is fetched once.
import {ModelcarError} from '../errors.js'
import {LIMITS} from '../http/body.js'
import {BlobNotFoundError, ShortBlobError, type BlobHead, type ImageSource} from '../oci/blob-reader.js'
import {digestOf} from '../oci/digest.js'
import {ANNOTATION, IMAGE_CONFIG_TYPES, type Descriptor, type ParsedManifest} from '../oci/types.js'
import {MODELS_DIR} from '../layer/tar.js'
import {layerCompression, scanBlob, type LayerScan} from './layer-scan.js'
import {memo, readUpTo, type Limiter} from './limit.js'
import type {BlobReport, Problem} from './types.js'

/** Image configs are read whole, so they get the manifests' limit (on the bytes read, not on what is declared). */
const MAX_CONFIG = LIMITS.manifest
/** Not expected in the registry: clients fetch them from their `urls`. */
const EXTERNAL_TYPES = /nondistributable|foreign/

export interface CheckContext {
  reader: ImageSource
  deep: boolean
  heads: Limiter
  reads: Limiter
  signal?: AbortSignal
  onBytes?: (n: number) => void
  /** Memos shared by every image of the run. */
  headMemo: Map<string, Promise<BlobHead>>
  scanMemo: Map<string, Promise<LayerScan>>
  configMemo: Map<string, Promise<Buffer>>
}

export interface ImageCheck {
  reports: BlobReport[]
  /** Deep scans by layer digest (for the Hub comparison). */
  scans: Map<string, LayerScan>
}

type ImageManifest = Extract<ParsedManifest, {kind: 'manifest'}>

export async function checkImageBlobs(image: ImageManifest, platform: string | undefined, ctx: CheckContext): Promise<ImageCheck> {
  const scans = new Map<string, LayerScan>()
  const configReport = image.config ? report('config', image.config, platform) : undefined
  const layerReports = image.layers.map((d) => report('layer', d, platform))
  const configTask = image.config && configReport ? checkConfig(image.config, configReport, ctx) : Promise.resolve(undefined)
  const layerTasks = image.layers.map(async (d, i) => {
    const scan = await checkLayer(d, layerReports[i], ctx)
    if (scan) scans.set(d.digest, scan)
  })
  const [config] = await Promise.all([configTask, ...layerTasks])
  if (config && configReport) checkDiffIds(config, image.layers, layerReports, scans, configReport)
  return {reports: [...(configReport ? [configReport] : []), ...layerReports], scans}
}

function report(kind: 'config' | 'layer', d: Descriptor, platform: string | undefined): BlobReport {
  const title = d.annotations[ANNOTATION.title]
  return {
    kind,
    digest: d.digest,
    size: d.size,
    mediaType: d.mediaType,
    ...(title ? {title} : {}),
    ...(platform ? {platform} : {}),
    result: 'ok',
    problems: [],
    notes: [],
  }
}

/** HEAD: true when the blob is there and worth reading. */
async function checkHead(d: Descriptor, r: BlobReport, ctx: CheckContext): Promise<boolean> {
  let head: BlobHead
  try {
    head = await memo(ctx.headMemo, d.digest, () => ctx.heads(() => ctx.reader.head(d.digest)))
  } catch (error) {
    unchecked(r, error)
    return false
  }
  if (head.status === 404) {
    if (d.urls?.length && EXTERNAL_TYPES.test(d.mediaType)) r.notes.push('external layer: not in the registry, fetched from its urls')
    else r.problems.push({kind: 'missing', detail: 'the registry answers 404'})
    return false
  }
  if (head.digest !== undefined && head.digest !== d.digest)
    r.problems.push({kind: 'digest mismatch', detail: `the registry reports Docker-Content-Digest ${head.digest}`})
  if (head.size !== undefined && head.size !== d.size)
    r.problems.push({kind: 'size mismatch', detail: `the registry has ${head.size} bytes, the manifest says ${d.size}`})
  return true
}

interface ConfigInfo {
  diffIds?: string[]
}

async function checkConfig(d: Descriptor, r: BlobReport, ctx: CheckContext): Promise<ConfigInfo | undefined> {
  if (!(await checkHead(d, r, ctx))) return undefined
  if (d.size > MAX_CONFIG) {
    const detail = `the manifest says the config is ${d.size} bytes, over the ${MAX_CONFIG}-byte limit for configs: not read`
    r.problems.push({kind: 'unchecked', detail})
    return undefined
  }
  let bytes: Buffer
  try {
    // One byte past the declared size is enough to know the registry sends more than it should.
    bytes = await memo(ctx.configMemo, d.digest, () => ctx.reads(() => readUpTo(ctx.reader.stream(d.digest, ctx.signal), d.size + 1)))
  } catch (error) {
    if (error instanceof BlobNotFoundError) r.problems.push({kind: 'missing', detail: 'HEAD found it but GET answers 404'})
    else unchecked(r, error)
    return undefined
  }
  if (bytes.length > d.size) {
    const detail = `the registry sends more than the ${d.size} bytes the manifest says (reading stopped there)`
    r.problems.push({kind: 'size mismatch', detail})
    return undefined
  }
  const actual = digestOf(bytes, d.digest.split(':')[0])
  if (actual !== d.digest) r.problems.push({kind: 'digest mismatch', detail: `its bytes hash to ${actual}`})
  if (bytes.length !== d.size) r.problems.push({kind: 'size mismatch', detail: `read ${bytes.length} bytes, the manifest says ${d.size}`})
  if (!IMAGE_CONFIG_TYPES.has(d.mediaType)) {
    r.notes.push(`config media type ${d.mediaType || '(none)'} is not an image config: rootfs not checked`)
    return {}
  }
  let doc: {rootfs?: {type?: unknown; diff_ids?: unknown}}
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc
  } catch {
    r.problems.push({kind: 'malformed', detail: 'the config is not valid JSON'})
    return undefined
  }
  const rootfs = doc?.rootfs
  if (rootfs?.type !== 'layers' || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every((x) => typeof x === 'string')) {
    r.problems.push({kind: 'malformed', detail: 'the config has no rootfs {type: "layers", diff_ids: [...]}'})
    return undefined
  }
  return {diffIds: rootfs.diff_ids}
}

async function checkLayer(d: Descriptor, r: BlobReport, ctx: CheckContext): Promise<LayerScan | undefined> {
  if (!(await checkHead(d, r, ctx)) || !ctx.deep) return undefined
  const compression = layerCompression(d.mediaType)
  let scan: LayerScan
  try {
    scan = await memo(ctx.scanMemo, d.digest, () =>
      ctx.reads(() => scanBlob(ctx.reader.stream(d.digest, ctx.signal), compression, d.digest.split(':')[0], ctx.onBytes)),
    )
  } catch (error) {
    if (error instanceof BlobNotFoundError) r.problems.push({kind: 'missing', detail: 'HEAD found it but GET answers 404'})
    else unchecked(r, error)
    return undefined
  }
  if (scan.digest !== d.digest) r.problems.push({kind: 'digest mismatch', detail: `its bytes hash to ${scan.digest}`})
  if (scan.size !== d.size) r.problems.push({kind: 'size mismatch', detail: `read ${scan.size} bytes, the manifest says ${d.size}`})
  if (compression === undefined) r.notes.push(`media type ${d.mediaType || '(none)'} is not a tar layer: digest and size checked only`)
  if (scan.notRead) r.notes.push(scan.notRead)
  if (scan.tarError) r.problems.push({kind: 'malformed', detail: scan.tarError})
  for (const h of scan.hygiene) r.problems.push({kind: 'hygiene', detail: h})
  if (scan.hygieneMore > 0) r.problems.push({kind: 'hygiene', detail: `${scan.hygieneMore} more hygiene problems`})
  checkContent(d, r, scan)
  if (compression !== undefined && compression !== 'zstd') r.files = scan.files
  return scan
}

/** dev.modelcar.content.sha256 against the file models/<title> in the tar. */
function checkContent(d: Descriptor, r: BlobReport, scan: LayerScan): void {
  const want = d.annotations[ANNOTATION.contentSha256]
  if (want === undefined || scan.tarError || scan.notRead) return
  const title = d.annotations[ANNOTATION.title]
  const path = title === undefined ? undefined : `${MODELS_DIR}/${title}`
  const file = path === undefined ? (scan.files.length === 1 ? scan.files[0] : undefined) : scan.files.find((f) => f.path === path)
  if (!file) {
    r.problems.push({kind: 'content mismatch', detail: `${path ?? 'the annotated file'} is not in the layer`})
    return
  }
  if (file.sha256 !== want)
    r.problems.push({
      kind: 'content mismatch',
      detail: `${file.path} has sha256 ${file.sha256.slice(0, 12)}…, the annotation says ${want.slice(0, 12)}…`,
    })
}

/** rootfs.diff_ids[i] is the digest of layer i's uncompressed tar. */
function checkDiffIds(
  config: ConfigInfo,
  layers: Descriptor[],
  layerReports: BlobReport[],
  scans: Map<string, LayerScan>,
  r: BlobReport,
): void {
  if (!config.diffIds) return
  const ids = config.diffIds
  if (ids.length !== layers.length) {
    r.problems.push({kind: 'content mismatch', detail: `rootfs.diff_ids has ${ids.length} entries for ${layers.length} layers`})
    return
  }
  let unread = 0
  layers.forEach((d, i) => {
    const compression = layerCompression(d.mediaType)
    const expected = compression === 'none' ? d.digest : scans.get(d.digest)?.diffId
    if (expected === undefined && (compression === 'gzip' || compression === 'zstd')) unread++
    if (expected === undefined || ids[i] === expected) return
    const name = `layer ${i + 1}${layerReports[i].title ? ` (${layerReports[i].title})` : ''}`
    const what = compression === 'none' ? `${name} is ${expected}` : `${name} uncompresses to ${expected}`
    r.problems.push({kind: 'content mismatch', detail: `rootfs.diff_ids[${i}] is ${ids[i]} but ${what}`})
  })
  if (unread > 0)
    r.notes.push(`diff_ids of ${unread} compressed layer${unread === 1 ? '' : 's'} not checked${scans.size === 0 ? ' (use --deep)' : ''}`)
}

function unchecked(r: BlobReport, error: unknown): void {
  if (error instanceof ModelcarError && error.code === 'E_REGISTRY_AUTH') throw error
  if (error instanceof ShortBlobError) {
    // Short on every retry with no byte more: the registry's copy is broken, not the network.
    const detail = `the registry announced ${error.announced} bytes, sent ${error.sent} (on each of ${error.attempts} attempts)`
    r.problems.push({kind: 'size mismatch', detail})
    return
  }
  r.problems.push({kind: 'unchecked', detail: (error as Error).message ?? String(error)})
}

export type {Problem}
