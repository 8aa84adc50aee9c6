// The verify service behind `modelcar verify`: builds the registry (and Hub)
// clients as push does, fetches the manifest (and each platform manifest of an
// index), checks every blob, optionally compares with the Hub commit, and
// returns a typed result. Errors that stop the whole check (auth, network on
// the manifest) are thrown as ModelcarError with exit code 1.
import {hubClient, registryClient} from '../clients.js'
import {EXIT, ModelcarError} from '../errors.js'
import {hubEndpoint} from '../hf/token.js'
import {TransportError} from '../http/raw.js'
import {defaultRetryPolicy, RetryableError, type RetryPolicy} from '../http/retry.js'
import {BlobReader, type ImageSource} from '../oci/blob-reader.js'
import {LayoutReader} from '../oci/layout-reader.js'
import {digestOf, shortDigest} from '../oci/digest.js'
import {parseManifest} from '../oci/manifest-parse.js'
import {referenceText, type ImageReference} from '../oci/reference.js'
import {platformOf, type Descriptor, type ParsedManifest} from '../oci/types.js'
import {fileFilter} from '../push/filter.js'
import {excuseBaseLayers} from './base-layers.js'
import {checkImageBlobs, type CheckContext} from './blob-checks.js'
import {finish} from './classify.js'
import {checkConsumers, withConsumers, type Consumer, type ConsumerResult} from './consumers.js'
import {compareWithHub, imageFiles, provenance} from './hub-compare.js'
import type {LayerScan} from './layer-scan.js'
import {limiter} from './limit.js'
import {pushCommand, repairFor} from './repair.js'
import type {BlobReport, HubComparison} from './types.js'

export interface VerifyParams {
  reference: ImageReference
  deep: boolean
  againstHf: boolean
  include: string[]
  exclude: string[]
  workers: number
  maxRetries?: number
  stallTimeoutS?: number
  /** false: accept any certificate from the registry. */
  tlsVerify?: boolean
  /** --for: consumers whose needs are checked too (consumers.ts). */
  for?: Consumer[]
}

export interface VerifyEvents {
  /** Bytes --deep will read (known once the manifests are in). */
  expect?: (bytes: number) => void
  bytes?: (n: number) => void
  retry?: (line: string) => void
  /** How a host is reached (direct or through which proxy). */
  route?: (line: string) => void
}

interface Image {
  manifest: Extract<ParsedManifest, {kind: 'manifest'}>
  platform?: string
  /** Annotations of the index that listed it, as a fallback for provenance. */
  parentAnnotations: Record<string, string>
}

const MAX_INDEX_DEPTH = 2

export async function verify(
  req: VerifyParams,
  ui: {events?: VerifyEvents; signal?: AbortSignal; env?: NodeJS.ProcessEnv} = {},
): Promise<ConsumerResult> {
  const env = ui.env ?? process.env
  const policy: RetryPolicy = {...defaultRetryPolicy, maxRetries: req.maxRetries ?? defaultRetryPolicy.maxRetries}
  const ref = req.reference
  const display = referenceText(ref)
  // A bad HF_ENDPOINT is a usage error found before any request, not an image that "could not be checked".
  if (req.againstHf) hubEndpoint(env)
  try {
    const reader: ImageSource = ref.layout
      ? new LayoutReader(ref.layout)
      : new BlobReader(
          await registryClient(ref.registry, ref.repository, {
            maxRetries: req.maxRetries,
            stallTimeoutS: req.stallTimeoutS,
            tlsVerify: req.tlsVerify,
            env,
            onRetry: (m: string) => ui.events?.retry?.(m),
            onRoute: (m: string) => ui.events?.route?.(m),
          }),
          {
            retry: policy,
            onRetry: (what, error, n) => ui.events?.retry?.(`${what} (attempt ${n + 1}): ${(error as Error).message}`),
          },
        )
    const blobs: BlobReport[] = []
    const images: Image[] = []
    const top = await readManifest(reader, ref.digest ?? ref.tag!, {digest: ref.digest}, undefined, blobs)
    const base = {reference: display, deep: req.deep, ...(top ? {manifestDigest: top.digest, mediaType: top.manifest?.mediaType} : {})}
    if (top?.manifest) await collectImages(reader, top.manifest, undefined, {}, 0, blobs, images)

    const ctx: CheckContext = {
      reader,
      deep: req.deep,
      heads: limiter(Math.max(4, req.workers * 2)),
      reads: limiter(req.workers),
      signal: ui.signal,
      onBytes: ui.events?.bytes,
      headMemo: new Map(),
      scanMemo: new Map(),
      configMemo: new Map(),
    }
    if (req.deep) ui.events?.expect?.(uniqueLayerBytes(images))
    const checked = await Promise.all(images.map((img) => checkImageBlobs(img.manifest, img.platform, ctx)))
    checked.forEach((c, i) => excuseBaseLayers(images[i].manifest, c.reports))
    checked.forEach((c) => blobs.push(...c.reports))

    const hub = req.againstHf
      ? await compareImages(
          images,
          checked.map((c) => c.scans),
          req,
          env,
          policy,
          ui.events,
        )
      : undefined
    ui.signal?.throwIfAborted()
    const result = finish(base, blobs, hub, req.deep ? await bytesRead(ctx) : undefined)
    addRepairs(result.blobs, ref, images, top?.manifest)
    if (!req.for?.length) return result
    return withConsumers(result, await checkConsumers(req.for, images, {reader, reads: ctx.reads, signal: ui.signal}))
  } catch (error) {
    throw uncheckable(error, display)
  }
}

/** GET a manifest by tag or digest and check it; adds its row. Undefined when it is not there. */
async function readManifest(
  reader: ImageSource,
  reference: string,
  expect: {digest?: string; size?: number},
  platform: string | undefined,
  blobs: BlobReport[],
) {
  const fetched = await reader.manifest(reference)
  const row: BlobReport = {
    kind: 'manifest',
    digest: expect.digest ?? '',
    size: expect.size ?? 0,
    mediaType: '',
    ...(platform ? {platform} : {}),
    result: 'ok',
    problems: [],
    notes: [],
  }
  blobs.push(row)
  if (!fetched) {
    const shown = reference.startsWith('sha') ? shortDigest(reference) : reference
    row.problems.push({kind: 'missing', detail: `the registry has no manifest ${shown} (404)`})
    return undefined
  }
  const algorithm = (expect.digest ?? fetched.digest ?? 'sha256').split(':')[0]
  const digest = digestOf(fetched.body, algorithm)
  row.digest = expect.digest ?? digest
  row.size = fetched.body.length
  if (expect.digest && digest !== expect.digest)
    row.problems.push({kind: 'digest mismatch', detail: `the registry served bytes that hash to ${digest}`})
  if (fetched.digest && fetched.digest !== digest)
    row.problems.push({
      kind: 'digest mismatch',
      detail: `the registry reports Docker-Content-Digest ${fetched.digest} for bytes that hash to ${digest}`,
    })
  if (expect.size !== undefined && expect.size !== fetched.body.length)
    row.problems.push({kind: 'size mismatch', detail: `${fetched.body.length} bytes, the index says ${expect.size}`})
  const check = parseManifest(fetched.body, fetched.contentType)
  row.mediaType = check.manifest?.mediaType ?? fetched.contentType
  if (check.manifest?.kind === 'index') row.kind = 'index'
  for (const p of check.problems) row.problems.push({kind: 'malformed', detail: p})
  return {digest, manifest: check.manifest}
}

async function collectImages(
  reader: ImageSource,
  manifest: ParsedManifest,
  platform: string | undefined,
  parentAnnotations: Record<string, string>,
  depth: number,
  blobs: BlobReport[],
  images: Image[],
): Promise<void> {
  if (manifest.kind === 'manifest') {
    images.push({manifest, ...(platform ? {platform} : {}), parentAnnotations})
    return
  }
  if (depth >= MAX_INDEX_DEPTH) {
    blobs.at(-1)?.notes.push('nested index not followed')
    return
  }
  const children = await Promise.all(
    manifest.manifests.map(async (d: Descriptor) => {
      const p = platformOf(d) ?? platform
      return {child: await readManifest(reader, d.digest, {digest: d.digest, size: d.size}, p, blobs), p}
    }),
  )
  for (const {child, p} of children) {
    if (child?.manifest)
      await collectImages(reader, child.manifest, p, {...parentAnnotations, ...manifest.annotations}, depth + 1, blobs, images)
  }
}

async function compareImages(
  images: Image[],
  scans: Array<Map<string, LayerScan>>,
  req: VerifyParams,
  env: NodeJS.ProcessEnv,
  policy: RetryPolicy,
  events?: VerifyEvents,
): Promise<HubComparison[]> {
  const hub = hubClient({maxRetries: policy.maxRetries, stallTimeoutS: req.stallTimeoutS, env, onRoute: (m: string) => events?.route?.(m)})
  const endpoint = hub.endpoint
  const keep = fileFilter(req.include, req.exclude)
  const out: HubComparison[] = []
  for (const [i, img] of images.entries()) {
    const source = provenance({...img.parentAnnotations, ...img.manifest.annotations}, endpoint)
    const platform = img.platform ? {platform: img.platform} : {}
    if ('error' in source) {
      out.push({repo: '', revision: '', ...platform, files: [], error: source.error})
      continue
    }
    const comparison: HubComparison = {repo: source.repo, revision: source.revision, ...platform, files: []}
    out.push(comparison)
    try {
      const commit = /^[0-9a-f]{40}$/.test(source.revision) ? source.revision : await hub.resolveRevision(source.repo, source.revision)
      comparison.commit = commit
      const listed = await hub.listFiles(source.repo, commit)
      comparison.files = compareWithHub(listed, imageFiles(img.manifest.layers, scans[i]), keep)
    } catch (error) {
      comparison.error = (error as Error).message
    }
  }
  return out
}

/** Each missing or broken blob gets the command that repairs it, from the annotations of the image that holds it. */
function addRepairs(blobs: BlobReport[], ref: ImageReference, images: Image[], top: ParsedManifest | undefined): void {
  const byDigest = new Map<string, string | undefined>()
  let first: string | undefined
  for (const img of images) {
    const command = pushCommand(ref, {...img.parentAnnotations, ...img.manifest.annotations}, img.manifest.layers)
    first ??= command
    for (const d of [...(img.manifest.config ? [img.manifest.config] : []), ...img.manifest.layers]) {
      if (!byDigest.has(d.digest)) byDigest.set(d.digest, command)
    }
  }
  // A manifest that is missing itself names no layers: only the top one's annotations (when read) can say.
  const fallback = first ?? (top?.kind === 'manifest' ? pushCommand(ref, top.annotations, top.layers) : undefined)
  for (const b of blobs) {
    const repair = repairFor(b, byDigest.get(b.digest) ?? fallback, ref.layout)
    if (repair) b.repair = repair
  }
}

async function bytesRead(ctx: CheckContext): Promise<number> {
  const scans = await Promise.all([...ctx.scanMemo.values()].map((p) => p.catch(() => undefined)))
  const configs = await Promise.all([...ctx.configMemo.values()].map((p) => p.catch(() => undefined)))
  return scans.reduce((n, s) => n + (s?.size ?? 0), 0) + configs.reduce((n, c) => n + (c?.length ?? 0), 0)
}

function uniqueLayerBytes(images: Image[]): number {
  const seen = new Map<string, number>()
  for (const img of images) for (const l of img.manifest.layers) seen.set(l.digest, l.size)
  return [...seen.values()].reduce((a, b) => a + b, 0)
}

/** Anything that stops the check means "could not be checked": exit 1, whatever its usual code. */
function uncheckable(error: unknown, display: string): unknown {
  const known = error instanceof ModelcarError || error instanceof TransportError || error instanceof RetryableError
  if (!known) return error // a bug: keep oclif's full report
  if (error instanceof ModelcarError && (error.exitCode === EXIT.interrupted || error.exitCode === EXIT.terminated)) return error
  const message = (error as Error)?.message ?? String(error)
  const code = error instanceof ModelcarError ? error.code : 'E_VERIFY_UNCHECKED'
  return new ModelcarError(`Could not check ${display}: ${message}`, {code, exitCode: EXIT.failure, cause: error})
}
