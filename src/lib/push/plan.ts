// Plan a push: resolve the revision, list and filter its files, check their
// paths, and size every layer before a byte moves. --dry-run prints this.
import {ModelcarError, UsageError} from '../errors.js'
import type {HubClient, HubFile} from '../hf/client.js'
import type {HubModelFacts} from '../hf/facts.js'
import {checkRepoPaths, confusableNames, unsafePathReason} from '../hf/paths.js'
import {layerSize} from '../layer/tar.js'
import {planWarnings, profileFor, type RegistryProfile, type UploadModeFlag} from '../oci/profiles.js'
import type {RegistryEndpoint} from '../oci/reference.js'
import type {Platform} from '../oci/image.js'
import type {ResolvedBase} from './base-image.js'
import type {DiscoverySource} from './discover.js'
import {fileFilter} from './filter.js'
import type {Split} from './split.js'

export interface PushParams {
  hfRepo: string
  revision: string
  registry: RegistryEndpoint & {display: string}
  /** Empty for a layout. */
  targetRepo: string
  /** --to oci:DIR: the absolute path of an OCI image layout written instead of a registry; `registry` then only names it (layoutEndpoint). */
  layout?: string
  targetTag?: string
  alsoTags: string[]
  include: string[]
  exclude: string[]
  workers: number
  /** Undefined: sized from the measured rate. */
  chunkMiB?: number
  failFast: boolean
  force?: boolean
  uploadMode: UploadModeFlag
  /** --base-image as given; the digest it resolved to once a run recorded it. */
  baseImage?: string
  baseDigest?: string
  /** --platform: one image per platform of the base, in an index. */
  platforms?: Platform[]
  /** --modelpack: a ModelPack manifest over the same layers, in the index. */
  modelpack?: boolean
  /** --from-image: more images of the same registry whose layers this push may mount. */
  fromImages?: DiscoverySource[]
  /** This process pushes one share of the files (modelcar mirror --split-files). */
  split?: Split
}

export interface PlannedFile extends HubFile {
  layerSize: number
}

export interface PushPlan {
  params: PushParams
  sha: string
  tag: string
  repoUrl: string
  files: PlannedFile[]
  totalBytes: number
  totalLayerBytes: number
  /** registry/repo:tag as the user will pull it. */
  imageRef: string
  /** The registry's known limits this plan runs into (warnings, not errors). */
  warnings: string[]
  /** Which registry profile applies, and the upload mode it starts with. */
  profile: RegistryProfile
  /** The base image, resolved to a digest (not on --dry-run, which touches no registry). */
  base?: ResolvedBase
  /** --modelpack: what the Hub says of the commit, for the ModelPack config. */
  facts?: HubModelFacts
}

const COMMIT_SHA = /^[0-9a-f]{40}$/

/** How the image is named without its tag: registry/repo, or oci:DIR (skopeo's syntax) for a layout. */
export function targetName(params: PushParams): string {
  return params.layout ? `oci:${params.layout}` : `${params.registry.display}/${params.targetRepo}`
}

/**
 * The plan: the commit, its files and the image's name. `onCommit` hears the commit and tag as soon as
 * the Hub names them, before the file listing, so a caller can start what depends only on them.
 */
export async function planPush(
  params: PushParams,
  hub: HubClient,
  onCommit?: (commit: {sha: string; tag: string}) => void,
): Promise<PushPlan> {
  // A commit sha (what resume pins) already names its file listing: both are asked at once. The
  // revision's answer still decides: its error comes first, and it must name that very commit.
  const pinned = COMMIT_SHA.test(params.revision) ? hub.listFiles(params.hfRepo, params.revision) : undefined
  pinned?.catch(() => undefined)
  // The model info that names the commit also carries what a ModelPack config says of it.
  const {sha, facts: info, names} = await hub.revisionInfo(params.hfRepo, params.revision)
  const tag = params.targetTag ?? sha.slice(0, 12)
  onCommit?.({sha, tag})
  const keep = fileFilter(params.include, params.exclude)
  // Access (a gated repo lists its files but refuses their bytes) is asked beside the listing, of a file the model info names.
  const early = names.find((name) => keep(name) && unsafePathReason(name) === undefined)
  const access = early === undefined ? undefined : hub.checkAccess(params.hfRepo, sha, early)
  access?.catch(() => undefined) // the listing's error comes first
  const listed = await (pinned && sha === params.revision ? pinned : hub.listFiles(params.hfRepo, sha))
  checkRepoPaths(listed.map((f) => f.path))
  const files = listed.filter((f) => keep(f.path)).map((f) => ({...f, layerSize: layerSize(f.path, f.size)}))
  if (files.length === 0) {
    const why = listed.length === 0 ? 'has no files' : `has ${listed.length} files but none matched --include/--exclude`
    throw new UsageError(
      `${params.hfRepo}@${sha.slice(0, 12)} ${why}: nothing to push; check the repo and the filters.`,
      'E_NOTHING_TO_PUSH',
    )
  }
  if (files.length > 10_000)
    throw new ModelcarError(
      `${files.length} files would make ${files.length} layers, more than any registry accepts: narrow the push with --include/--exclude.`,
      {code: 'E_TOO_MANY_LAYERS', exitCode: 2},
    )
  await (access && files.some((f) => f.path === early) ? access : hub.checkAccess(params.hfRepo, sha, files[0].path))
  const facts = params.modelpack ? info : undefined
  return {
    params,
    sha,
    tag,
    repoUrl: hub.repoUrl(params.hfRepo),
    files,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    totalLayerBytes: files.reduce((n, f) => n + f.layerSize, 0),
    imageRef: `${targetName(params)}:${tag}`,
    warnings: [...planWarnings(profileFor(params.registry.host), files), ...confusableNames(files.map((f) => f.path))],
    profile: profileFor(params.registry.host),
    ...(facts ? {facts} : {}),
  }
}
