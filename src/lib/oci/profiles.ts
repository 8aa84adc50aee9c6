// What we know about registries in the wild: how they accept uploads and what
// they refuse. `auto` starts from the host's profile; a registry that refuses
// what it is sent teaches the next mode down (UploadModes).
import {isDockerHub} from './docker-hub.js'

export type UploadMode = 'chunked' | 'stream' | 'monolithic'
export type UploadModeFlag = UploadMode | 'auto'
export const UPLOAD_MODES: UploadModeFlag[] = ['auto', 'chunked', 'stream', 'monolithic']

const MiB = 1024 * 1024

export interface RegistryProfile {
  name: string
  mode: UploadMode
  /** PATCH size bounds (chunked mode). */
  minChunk?: number
  maxChunk?: number
  /** Largest layer the registry accepts. */
  maxLayerBytes?: number
  /** Most layers it accepts in one image (in practice). */
  maxLayers?: number
  why: string
}

interface Entry extends RegistryProfile {
  match: (host: string) => boolean
}

const PROFILES: Entry[] = [
  {
    name: 'GitHub Container Registry',
    match: (h) => h === 'ghcr.io',
    mode: 'stream',
    maxLayerBytes: 10e9,
    why: 'rejects PATCH bodies over 4 MiB with 416; one streamed PATCH works',
  },
  {
    name: 'Google Artifact Registry',
    match: (h) => h.endsWith('.pkg.dev') || h === 'gcr.io' || h.endsWith('.gcr.io'),
    mode: 'stream',
    why: 'no chunked uploads',
  },
  {
    name: 'Amazon ECR',
    match: (h) => /\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(h) || h.endsWith('.amazonaws.com'),
    mode: 'chunked',
    minChunk: 5 * MiB,
    maxChunk: 10 * MiB,
    maxLayerBytes: 52_000 * MiB,
    maxLayers: 500,
    why: 'chunks of 5-10 MiB; intermediate PATCH may answer 201 and Range may stop advancing',
  },
  {
    name: 'Azure Container Registry',
    match: (h) => h.endsWith('.azurecr.io'),
    mode: 'chunked',
    minChunk: 8 * MiB,
    why: 'very small chunks are slow; the final PUT may answer 416 once',
  },
  {
    name: 'Quay',
    match: (h) => h === 'quay.io' || h.endsWith('.quay.io'),
    mode: 'chunked',
    maxLayerBytes: 20e9,
    why: '20 GB default layer cap',
  },
  {name: 'Docker Hub', match: isDockerHub, mode: 'chunked', why: 'bearer tokens live about 5 minutes: refreshed before expiry'},
]

export const GENERIC: RegistryProfile = {name: 'generic', mode: 'chunked', why: 'OCI distribution chunked upload'}

export function profileFor(host: string): RegistryProfile {
  const bare = host.replace(/:\d+$/, '').toLowerCase()
  const found = PROFILES.find((p) => p.match(bare))
  if (!found) return GENERIC
  const {match: _match, ...profile} = found
  return profile
}

/** PATCH size within the registry's bounds and its OCI-Chunk-Min-Length. */
export function clampChunk(requested: number, profile: RegistryProfile, serverMin?: number): number {
  let size = requested
  if (profile.maxChunk) size = Math.min(size, profile.maxChunk)
  if (profile.minChunk) size = Math.max(size, profile.minChunk)
  if (serverMin && serverMin > size) size = serverMin
  return size
}

/** Warnings for a plan: files over the layer cap, more layers than accepted. */
export function planWarnings(profile: RegistryProfile, files: Array<{path: string; layerSize: number}>): string[] {
  const warnings: string[] = []
  if (profile.maxLayerBytes) {
    for (const f of files) {
      if (f.layerSize > profile.maxLayerBytes)
        warnings.push(
          `${f.path} (${f.layerSize} bytes as a layer) is over ${profile.name}'s per-layer limit of ${profile.maxLayerBytes} bytes: it will likely be refused.`,
        )
    }
  }
  if (profile.maxLayers && files.length > profile.maxLayers) {
    warnings.push(
      `${files.length} files make ${files.length} layers, more than ${profile.name} accepts in practice (${profile.maxLayers}): narrow the push with --include/--exclude.`,
    )
  }
  return warnings
}

/**
 * The upload mode of a push, learnt per registry: it starts from the profile
 * (or the flag) and only ever steps down chunked → stream → monolithic when
 * the registry refuses what it was sent, so a refusal is never retried forever.
 */
export class UploadModes {
  constructor(
    public mode: UploadMode,
    readonly profile: RegistryProfile,
    /** Whether the registry's refusals may change the mode (--upload-mode auto). */
    private readonly adaptive: boolean,
    /** `refused`: the registry refused the mode in force; otherwise it accepts it but `mode` suits it better. */
    private readonly onLearn?: (mode: UploadMode, why: string, refused: boolean) => void,
  ) {}

  /** True when the layer should be tried again (in the mode now in force). `refusal`: a ModeRefusedError. */
  stepDown(refusal: {next: UploadMode; message: string}): boolean {
    if (rank(refusal.next) <= rank(this.mode)) return true // another worker stepped down already
    if (!this.adaptive) return false
    this.mode = refusal.next
    this.onLearn?.(refusal.next, refusal.message, true)
    return true
  }

  /**
   * The registry accepts this mode but `next` suits it better (it cancels a
   * session when a PATCH is cut: one PATCH per layer gives the fewest chances
   * to lose one). True when the mode changed; a fixed --upload-mode stays.
   */
  prefer(next: UploadMode, why: string): boolean {
    if (!this.adaptive || rank(next) <= rank(this.mode)) return false
    this.mode = next
    this.onLearn?.(next, why, false)
    return true
  }
}

function rank(mode: UploadMode): number {
  return ['chunked', 'stream', 'monolithic'].indexOf(mode)
}
