// verify --for: what each consumer of a model image needs, checked on the
// image's own bytes. KServe's sidecar mode starts the image with `sh -c` (an
// init container runs `ls` on /models, the sidecar `ln`s and `sleep`s): it
// needs those in the merged filesystem. Image volumes mount a real image's
// rootfs (subPath models). KServe's fetch mode unpacks tar and tar+gzip
// layers only. All need a non-empty models/ that any UID can read.
import {createGunzip} from 'node:zlib'
import {EXIT, ModelcarError} from '../errors.js'
import {TarFormatError, TarReader, type TarEntry} from '../layer/tar-reader.js'
import {MODELS_DIR} from '../layer/tar.js'
import type {ImageSource} from '../oci/blob-reader.js'
import {shortDigest} from '../oci/digest.js'
import {IMAGE_CONFIG_TYPES, MEDIA, type ParsedManifest} from '../oci/types.js'
import {problemLines} from './classify.js'
import {VerifyFailedError} from './failure.js'
import {layerCompression} from './layer-scan.js'
import {memo, readUpTo, type Limiter} from './limit.js'
import {MergedFs} from './rootfs.js'
import type {VerifyResult} from './types.js'

export const CONSUMERS = ['kserve-sidecar', 'image-volume', 'kserve-fetch'] as const
export type Consumer = (typeof CONSUMERS)[number]

/** overlayfs stacks at most 500 lower layers; some registries (ECR) stop near there too. */
export const MAX_LAYERS = 500
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const SIDECAR_TOOLS = ['ls', 'ln', 'sleep']
const FETCH_TYPES: ReadonlySet<string> = new Set([MEDIA.layerTar, MEDIA.layerTarGzip, MEDIA.dockerLayerTar, MEDIA.dockerLayerTarGzip])
const MAX_CONFIG = 4 * 1024 * 1024
const MAX_LISTED = 5

export interface ConsumerFinding {
  consumer: Consumer
  platform?: string
  /** What is wrong and what to change. */
  detail: string
}

export interface ConsumerReport {
  consumers: Consumer[]
  /** Container images checked (ModelPack and other artifacts are not run by these consumers). */
  images: number
  findings: ConsumerFinding[]
  notes: string[]
}

type ImageManifest = Extract<ParsedManifest, {kind: 'manifest'}>

export interface ConsumerContext {
  reader: ImageSource
  reads: Limiter
  signal?: AbortSignal
}

export async function checkConsumers(
  consumers: Consumer[],
  images: Array<{manifest: ImageManifest; platform?: string}>,
  ctx: ConsumerContext,
): Promise<ConsumerReport> {
  const report: ConsumerReport = {consumers, images: 0, findings: [], notes: []}
  const runnable = images.filter((i) => i.manifest.config && IMAGE_CONFIG_TYPES.has(i.manifest.config.mediaType))
  report.images = runnable.length
  if (runnable.length === 0) {
    for (const consumer of consumers) {
      report.findings.push({consumer, detail: 'no container image (image config) to run or mount: push an image, not only an artifact'})
    }
    return report
  }
  const layerMemo = new Map<string, Promise<TarEntry[] | undefined>>()
  for (const image of runnable) {
    const platform = image.platform ? {platform: image.platform} : {}
    const add = (consumer: Consumer, detail: string) => report.findings.push({consumer, ...platform, detail})
    const {manifest} = image
    if (manifest.layers.length > MAX_LAYERS) {
      const why = `${manifest.layers.length} layers, over the ${MAX_LAYERS} overlayfs stacks and registries accept`
      for (const c of consumers) add(c, `${why}: push fewer files (--include/--exclude)`)
    }
    if (consumers.includes('kserve-fetch')) {
      manifest.layers.forEach((d, i) => {
        if (FETCH_TYPES.has(d.mediaType)) return
        const why = `KServe's storage initializer unpacks only tar and tar+gzip layers`
        add('kserve-fetch', `layer ${i + 1} is ${d.mediaType}: ${why}; rebuild it without zstd`)
      })
    }
    const fs = new MergedFs()
    let complete = true
    for (const d of manifest.layers) {
      const read = () => ctx.reads(() => readEntries(ctx.reader, d.digest, layerCompression(d.mediaType), ctx.signal))
      const entries = await memo(layerMemo, d.digest, read)
      if (!entries) {
        complete = false
        report.notes.push(`layer ${shortDigest(d.digest)} (${d.mediaType}) could not be read: files in it are not counted`)
        continue
      }
      fs.apply(entries)
    }
    const modelProblems = modelsProblems(fs)
    for (const c of consumers) for (const p of modelProblems) add(c, p)
    if (consumers.includes('kserve-sidecar')) {
      const config = await readConfig(ctx.reader, manifest.config!.digest, ctx.signal)
      for (const p of sidecarProblems(fs, config)) add('kserve-sidecar', complete ? p : `${p} (some layers could not be read)`)
    }
  }
  return report
}

/** models/ present, not empty, and readable by any UID (files o+r, directories o+rx). */
function modelsProblems(fs: MergedFs): string[] {
  const at = fs.resolve(`/${MODELS_DIR}`)
  if (!at || !fs.isDirectory(at.path)) return [`no /${MODELS_DIR} directory: consumers read the model from there; push it with modelcar`]
  const files: string[] = []
  const unreadable: string[] = []
  if (at.node && (at.node.mode & 0o005) !== 0o005) unreadable.push(`/${at.path} (directory ${octal(at.node.mode)})`)
  for (const [path, node] of fs.nodes) {
    if (!path.startsWith(`${at.path}/`)) continue
    if (node.type === 'file') files.push(path)
    const need = node.type === 'directory' ? 0o005 : node.type === 'file' ? 0o004 : 0
    if ((node.mode & need) !== need) unreadable.push(`/${path} (${node.type} ${octal(node.mode)})`)
  }
  const problems: string[] = []
  if (files.length === 0) problems.push(`/${MODELS_DIR} holds no files: check the push's --include/--exclude`)
  if (unreadable.length > 0) {
    const more = unreadable.length > MAX_LISTED ? `, and ${unreadable.length - MAX_LISTED} more` : ''
    const listed = unreadable.slice(0, MAX_LISTED).join(', ') + more
    problems.push(`not readable by every UID (model servers run as any user): ${listed}; files need 0644 and directories 0755`)
  }
  return problems
}

/** `sh -c`, then ls, ln and sleep on the image's PATH. */
function sidecarProblems(fs: MergedFs, config: {Env?: unknown} | undefined): string[] {
  const problems: string[] = []
  if (!executable(fs, '/bin/sh')) {
    problems.push('no /bin/sh: KServe starts the modelcar sidecar with `sh -c`; add --base-image (e.g. a busybox) or use an image volume')
  }
  const env = Array.isArray(config?.Env) ? (config.Env as unknown[]).filter((e): e is string => typeof e === 'string') : []
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH
  const dirs = path.split(':').filter((d) => d.startsWith('/'))
  const missing = SIDECAR_TOOLS.filter((tool) => !dirs.some((d) => executable(fs, `${d}/${tool}`)))
  if (missing.length > 0) {
    const tools = missing.map((t) => `\`${t}\``).join(', ')
    problems.push(`no ${tools} on PATH (${path}): the sidecar's commands need them; add --base-image (e.g. a busybox image)`)
  }
  return problems
}

function executable(fs: MergedFs, path: string): boolean {
  const found = fs.resolve(path)
  return found?.node?.type === 'file' && (found.node.mode & 0o111) !== 0
}

/** Every entry's metadata; undefined when the layer cannot be read (zstd, not a tar). */
async function readEntries(
  reader: ImageSource,
  digest: string,
  compression: ReturnType<typeof layerCompression>,
  signal?: AbortSignal,
): Promise<TarEntry[] | undefined> {
  if (compression !== 'none' && compression !== 'gzip') return undefined
  const entries: TarEntry[] = []
  const tar = new TarReader((e) => {
    entries.push(e)
  })
  try {
    if (compression === 'none') {
      for await (const chunk of reader.stream(digest, signal)) tar.write(chunk)
    } else {
      const gunzip = createGunzip()
      const feed = (async () => {
        for await (const chunk of reader.stream(digest, signal)) if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once('drain', r))
        gunzip.end()
      })()
      feed.catch(() => gunzip.destroy())
      for await (const chunk of gunzip) tar.write(chunk as Buffer)
      await feed
    }
    tar.end()
  } catch (error) {
    if (error instanceof TarFormatError || (error as NodeJS.ErrnoException).code?.startsWith('Z_')) return undefined
    throw error
  }
  return entries
}

async function readConfig(reader: ImageSource, digest: string, signal?: AbortSignal): Promise<{Env?: unknown} | undefined> {
  const bytes = await readUpTo(reader.stream(digest, signal), MAX_CONFIG + 1)
  if (bytes.length > MAX_CONFIG)
    throw new ModelcarError(`config ${shortDigest(digest)} is over ${MAX_CONFIG} bytes`, {code: 'E_BLOB_TOO_LARGE'})
  try {
    return (JSON.parse(bytes.toString('utf8')) as {config?: {Env?: unknown}}).config
  } catch {
    return undefined
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

/** One line per finding, for messages and the table under verify's output. */
export function consumerLines(report: ConsumerReport): string[] {
  return report.findings.map((f) => `${f.consumer}${f.platform ? ` [${f.platform}]` : ''}: ${f.detail}`)
}

export type ConsumerResult = VerifyResult & {consumers?: ConsumerReport}

/** verify --for found something a consumer cannot use: the image is wrong for it (exit 4). */
export function withConsumers(result: VerifyResult, report: ConsumerReport): ConsumerResult {
  if (report.findings.length === 0) return {...result, consumers: report}
  return {...result, consumers: report, verdict: 'wrong', exitCode: EXIT.imageWrong}
}

/** The error verify ends with when a consumer check failed: it names each finding and its fix. */
export class ConsumerCheckError extends VerifyFailedError {
  constructor(result: ConsumerResult) {
    super(result)
    const lines = [...problemLines(result), ...consumerLines(result.consumers!)]
    this.message = `${result.reference} is not ready for ${result.consumers!.consumers.join(', ')}: ${lines.join('; ')}`
  }
}
