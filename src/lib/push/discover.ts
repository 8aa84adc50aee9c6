// The registry is the source of truth for what a push can reuse: before any
// file moves, read the manifests it already holds (the target repository's
// tags, and --from-image) and turn their layers into per-file candidates.
// Bounded: at most MAX_MANIFEST_READS manifest reads per push, in parallel.
// Nothing here is trusted yet: execute.ts HEADs (or mounts) a candidate
// before the new manifest references it.
import {errorText} from '../errors.js'
import type {RegistryClient} from '../oci/client.js'
import type {BlobReader} from '../oci/blob-reader.js'
import {shortDigest} from '../oci/digest.js'
import type {ImageManifest} from '../inspect/files.js'
import type {PlannedFile, PushParams} from './plan.js'

/** Manifest reads (index children included) one push spends on discovery. */
export const MAX_MANIFEST_READS = 16

/** A tag that looks like a commit prefix (modelcar's default tag is the first 12 hex of the sha). */
const COMMIT_TAG = /^[0-9a-f]{7,40}$/

/** A blob that may hold a file's layer: from the state db cache, or read from a manifest. */
export interface ReuseCandidate {
  repository: string
  digest: string
  size: number
  contentSha256: string | null
  /** repository:tag (or @digest) of the manifest that listed it; none when the state db remembered it. */
  from?: string
}

export interface DiscoveredLayer extends ReuseCandidate {
  path: string
  gitBlobId?: string
}

export interface Discovery {
  /** Layers the registry's manifests list, by file path. */
  layers: Map<string, DiscoveredLayer[]>
  manifestsRead: number
  /** Sources not read and why (said under --verbose, never fatal). */
  notes: string[]
  /** Set when no manifest could be read at all (registry unreachable): why. */
  skipped?: string
}

/** Where to look: a manifest by tag or digest in one repository of the push's registry. */
export interface DiscoverySource {
  repository: string
  reference: string
}

export interface DiscoverOptions {
  target: RegistryClient
  /** A client for another repository of the same registry (--from-image). */
  clientFor: (repository: string) => Promise<RegistryClient>
  targetRepo: string
  tag: string
  alsoTags: string[]
  fromImages: DiscoverySource[]
  /** Read these and nothing else (no tag listing): a split push's partial tags. */
  only?: DiscoverySource[]
  max?: number
}

export function emptyDiscovery(skipped?: string): Discovery {
  return {layers: new Map(), manifestsRead: 0, notes: [], ...(skipped ? {skipped} : {})}
}

/**
 * The manifests to read, in order, at most `max`: --from-image (asked for by
 * name), then the target's tags that look like commit prefixes (the tags of
 * earlier revisions; newest first as far as the listing tells: its last
 * first), then the target and --also-tag tags.
 */
export function discoverySources(
  o: {targetRepo: string; tag: string; alsoTags: string[]; listedTags: string[]; fromImages: DiscoverySource[]},
  max = MAX_MANIFEST_READS,
): DiscoverySource[] {
  const inTarget = (reference: string) => ({repository: o.targetRepo, reference})
  const commits = o.listedTags.filter((t) => COMMIT_TAG.test(t)).reverse()
  // The tags the push writes come before older commits: one that exists already most likely holds these very layers,
  // and they are read beside the listing (discover), so they must be inside the bound.
  const all = [...o.fromImages, ...[o.tag, ...o.alsoTags].map(inTarget), ...commits.map(inTarget)]
  const seen = new Set<string>()
  const out: DiscoverySource[] = []
  for (const s of all) {
    const key = sourceKey(s)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(s)
  }
  return out.slice(0, Math.max(0, max))
}

function sourceKey(s: DiscoverySource): string {
  return `${s.repository}\u0000${s.reference}`
}

export function sourceText(s: DiscoverySource): string {
  return s.reference.includes(':') ? `${s.repository}@${shortDigest(s.reference)}` : `${s.repository}:${s.reference}`
}

/** discover() for a push writing `tag`: its target repository, --also-tag and --from-image. */
export function discoverForPush(
  params: Pick<PushParams, 'targetRepo' | 'alsoTags' | 'fromImages'>,
  target: RegistryClient,
  tag: string,
  clientFor: DiscoverOptions['clientFor'],
  only?: DiscoverySource[],
): Promise<Discovery> {
  const {targetRepo, alsoTags, fromImages = []} = params
  return discover({target, clientFor, targetRepo, tag, alsoTags, fromImages, ...(only ? {only} : {})})
}

export async function discover(o: DiscoverOptions): Promise<Discovery> {
  // The manifest readers load here, not with the module: the plan and its --dry-run table need only the types above.
  const [{BlobReader}, {listed, readManifest}] = await Promise.all([import('../oci/blob-reader.js'), import('../inspect/files.js')])
  const max = o.max ?? MAX_MANIFEST_READS
  const found = emptyDiscovery()
  // The target's named tags are read whatever the listing says: asked beside it, not after (one round trip less before
  // any layer moves). Only those inside the bound (the listing cannot push them out: they come before its tags).
  const early = new Map<string, ReturnType<typeof readManifest>>()
  let listedTags: string[] = []
  if (!o.only) {
    for (const s of discoverySources({...o, listedTags: []}, max).slice(o.fromImages.length)) {
      early.set(sourceKey(s), readManifest(new BlobReader(o.target), s.reference, sourceText(s)))
    }
    for (const pending of early.values()) pending.catch(() => undefined)
    try {
      listedTags = await o.target.listTags()
    } catch (error) {
      // A registry that does not list tags (or refuses) still has the named tags to offer.
      found.notes.push(`tag listing of ${o.targetRepo} skipped: ${errorText(error)}`)
    }
  }
  const sources = o.only ? o.only.slice(0, max) : discoverySources({...o, listedTags}, max)
  const readers = new Map<string, Promise<BlobReader>>()
  const readerFor = (repository: string) => {
    let r = readers.get(repository)
    if (!r) {
      r = (repository === o.targetRepo ? Promise.resolve(o.target) : o.clientFor(repository)).then((c) => new BlobReader(c))
      readers.set(repository, r)
    }
    return r
  }
  let budget = max
  const read = async (s: DiscoverySource) => {
    budget--
    found.manifestsRead++
    const asked = early.get(sourceKey(s))
    if (asked) return asked
    const reader = await readerFor(s.repository)
    return readManifest(reader, s.reference, sourceText(s))
  }
  // `label`: the source as the user knows it (an index entry is named by its index's tag).
  const add = (s: DiscoverySource, m: ImageManifest, label = sourceText(s)) => {
    for (const f of listed('', m).files) {
      if (!f.sha256 && !f.gitBlobId) continue
      const layer: DiscoveredLayer = {
        path: f.path,
        repository: s.repository,
        digest: f.layerDigest,
        size: f.layerSize,
        contentSha256: f.sha256,
        from: label,
        ...(f.gitBlobId ? {gitBlobId: f.gitBlobId} : {}),
      }
      const list = found.layers.get(f.path) ?? []
      if (!list.some((l) => l.repository === layer.repository && l.digest === layer.digest)) list.push(layer)
      found.layers.set(f.path, list)
    }
  }
  const failures: string[] = []
  const tops = await Promise.all(
    sources.map((s) =>
      read(s).then(
        (m) => ({s, m}),
        (error: unknown) => {
          failures.push(`${sourceText(s)}: ${errorText(error)}`)
          return undefined
        },
      ),
    ),
  )
  // Index children (one image per platform, a ModelPack manifest) from what the bound has left.
  const children: Array<DiscoverySource & {label: string}> = []
  for (const top of tops) {
    if (!top) continue
    if (top.m.manifest.kind === 'manifest') add(top.s, top.m.manifest)
    else
      for (const d of top.m.manifest.manifests) children.push({repository: top.s.repository, reference: d.digest, label: sourceText(top.s)})
  }
  const affordable = children.slice(0, Math.max(0, budget))
  if (affordable.length < children.length) found.notes.push(`${children.length - affordable.length} index entries not read (bound)`)
  await Promise.all(
    affordable.map((s) =>
      read(s).then(
        (m) => (m.manifest.kind === 'manifest' ? add(s, m.manifest, s.label) : undefined),
        (error: unknown) => failures.push(`${sourceText(s)}: ${errorText(error)}`),
      ),
    ),
  )
  found.notes.push(...failures)
  return found
}

/**
 * The discovered layers that hold exactly this file: same path (the tar
 * header carries it), same layer size (deterministic from path and size),
 * same content (the Hub's LFS sha256, or its git blob id for other files).
 */
export function discoveredFor(file: PlannedFile, discovery: Discovery | undefined): DiscoveredLayer[] {
  return (discovery?.layers.get(file.path) ?? []).filter(
    (l) => l.size === file.layerSize && (file.lfsSha256 ? l.contentSha256 === file.lfsSha256 : l.gitBlobId === file.oid),
  )
}

/** Where --dry-run expects a file's layer to come from (the target's own manifests first), unchecked. */
export function plannedReuse(file: PlannedFile, discovery: Discovery | undefined, targetRepo: string): string | undefined {
  const found = discoveredFor(file, discovery)
  return (found.find((l) => l.repository === targetRepo) ?? found[0])?.from
}
