// What `modelcar verify` finds, as data: one report per blob (manifests
// included), optional Hub comparisons, and the overall verdict.

/** Kinds of problem, from the worst down. `unchecked` means "could not tell". */
export const PROBLEM_KINDS = [
  'missing',
  'digest mismatch',
  'size mismatch',
  'content mismatch',
  'malformed',
  'hygiene',
  'unchecked',
] as const

export type ProblemKind = (typeof PROBLEM_KINDS)[number]

export interface Problem {
  kind: ProblemKind
  detail: string
}

export type BlobKind = 'index' | 'manifest' | 'config' | 'layer'

export interface ScannedFile {
  path: string
  size: number
  /** hex */
  sha256: string
  /** git blob id (hex sha1) for small files: the Hub's `oid` of non-LFS files. */
  gitOid?: string
}

export interface BlobReport {
  kind: BlobKind
  digest: string
  size: number
  mediaType: string
  /** org.opencontainers.image.title, for layers. */
  title?: string
  /** os/arch[/variant] when the image is an index. */
  platform?: string
  result: 'ok' | ProblemKind
  problems: Problem[]
  /** Checks that were skipped and why (do not change the verdict). */
  notes: string[]
  /** Regular files found by --deep (layers only). */
  files?: ScannedFile[]
  /** How to repair a missing or broken blob: the command, rebuilt from the image's annotations. */
  repair?: string
}

export type HubFileResult = 'ok' | 'missing from image' | 'unexpected' | 'size mismatch' | 'sha256 mismatch' | 'content mismatch'

export interface HubFileReport {
  path: string
  result: HubFileResult
  detail?: string
  /** Layer that carries the file in the image. */
  layer?: string
}

export interface HubComparison {
  repo: string
  /** As recorded in the image. */
  revision: string
  /** Commit listed. */
  commit?: string
  platform?: string
  files: HubFileReport[]
  /** Why the comparison could not be made. */
  error?: string
}

export type Verdict = 'ok' | 'wrong' | 'unchecked'

export interface VerifyResult {
  reference: string
  manifestDigest?: string
  mediaType?: string
  deep: boolean
  verdict: Verdict
  exitCode: number
  blobs: BlobReport[]
  hub?: HubComparison[]
  summary: {
    blobs: number
    ok: number
    wrong: number
    unchecked: number
    byResult: Record<string, number>
    hubFiles?: number
    hubWrong?: number
    /** --deep: bytes read from the registry (each blob once). */
    bytesRead?: number
  }
}
