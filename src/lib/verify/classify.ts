// From problems to verdicts: the worst problem names a blob's result, and the
// image is wrong when anything checked is wrong, unchecked when something
// could not be checked, ok otherwise.
import {EXIT} from '../errors.js'
import {shortDigest} from '../oci/digest.js'
import {
  PROBLEM_KINDS,
  type BlobReport,
  type HubComparison,
  type Problem,
  type ProblemKind,
  type Verdict,
  type VerifyResult,
} from './types.js'

export function worst(problems: Problem[]): 'ok' | ProblemKind {
  let best: number = PROBLEM_KINDS.length
  for (const p of problems) best = Math.min(best, PROBLEM_KINDS.indexOf(p.kind))
  return best === PROBLEM_KINDS.length ? 'ok' : PROBLEM_KINDS[best]
}

export function isWrong(result: string): boolean {
  return result !== 'ok' && result !== 'unchecked'
}

export function verdictOf(blobs: BlobReport[], hub: HubComparison[] = []): Verdict {
  const hubWrong = hub.some((h) => h.files.some((f) => f.result !== 'ok'))
  if (blobs.some((b) => isWrong(b.result)) || hubWrong) return 'wrong'
  if (blobs.some((b) => b.result === 'unchecked') || hub.some((h) => h.error !== undefined)) return 'unchecked'
  return 'ok'
}

export function exitCodeOf(verdict: Verdict): number {
  return verdict === 'ok' ? 0 : verdict === 'wrong' ? EXIT.imageWrong : EXIT.failure
}

/** Fill in each blob's result, then the verdict, exit code and counts. */
export function finish(
  base: {reference: string; manifestDigest?: string; mediaType?: string; deep: boolean},
  blobs: BlobReport[],
  hub?: HubComparison[],
  bytesRead?: number,
): VerifyResult {
  for (const b of blobs) b.result = worst(b.problems)
  const verdict = verdictOf(blobs, hub)
  const byResult: Record<string, number> = {}
  for (const b of blobs) byResult[b.result] = (byResult[b.result] ?? 0) + 1
  const hubFiles = hub?.reduce((n, h) => n + h.files.length, 0)
  const hubWrong = hub?.reduce((n, h) => n + h.files.filter((f) => f.result !== 'ok').length, 0)
  return {
    ...base,
    verdict,
    exitCode: exitCodeOf(verdict),
    blobs,
    ...(hub ? {hub} : {}),
    summary: {
      blobs: blobs.length,
      ok: byResult.ok ?? 0,
      wrong: blobs.filter((b) => isWrong(b.result)).length,
      unchecked: byResult.unchecked ?? 0,
      byResult,
      ...(hub ? {hubFiles, hubWrong} : {}),
      ...(bytesRead === undefined ? {} : {bytesRead}),
    },
  }
}

/** One line per wrong (or unchecked) thing, naming the blob and the file: for the error message. */
export function problemLines(result: VerifyResult, max = 6): string[] {
  const lines: string[] = []
  for (const b of result.blobs) {
    if (b.result === 'ok') continue
    const what = `${b.kind}${b.digest ? ` ${shortDigest(b.digest)}` : ''}${b.title ? ` (${b.title})` : ''}${b.platform ? ` [${b.platform}]` : ''}`
    const first = b.problems.find((p) => p.kind === b.result) ?? b.problems[0]
    lines.push(`${what}: ${b.result}${first && first.detail ? ` (${first.detail})` : ''}${b.repair ? `; to repair, ${b.repair}` : ''}`)
  }
  for (const h of result.hub ?? []) {
    if (h.error) lines.push(`Hub ${h.repo}@${h.revision.slice(0, 12)}: not checked (${h.error})`)
    for (const f of h.files) if (f.result !== 'ok') lines.push(`Hub file ${f.path}: ${f.result}${f.detail ? ` (${f.detail})` : ''}`)
  }
  if (lines.length > max) return [...lines.slice(0, max), `… and ${lines.length - max} more`]
  return lines
}
