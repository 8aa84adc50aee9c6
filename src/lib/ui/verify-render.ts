// What `modelcar verify` prints on stdout: one row per blob, the Hub files
// that do not match, and a summary line.
import {shortDigest} from '../oci/digest.js'
import type {BlobReport, VerifyResult} from '../verify/types.js'
import {bytes} from './format.js'
import {table} from './output.js'

const DETAIL_MAX = 110
const TITLE_MAX = 60

export function renderVerify(result: VerifyResult): string {
  const withPlatform = result.blobs.some((b) => b.platform)
  const rows = result.blobs.map((b) => [
    b.digest ? shortDigest(b.digest) : '-',
    b.kind,
    ...(withPlatform ? [b.platform ?? ''] : []),
    middle(b.title ?? '', TITLE_MAX),
    resultText(b),
  ])
  const out = [table(rows, ['DIGEST', 'KIND', ...(withPlatform ? ['PLATFORM'] : []), 'TITLE', 'RESULT'])]
  for (const h of result.hub ?? []) {
    const where = h.repo ? `${h.repo}@${(h.commit ?? h.revision).slice(0, 12)}` : 'Hub'
    if (h.error) {
      out.push('', `${where}${h.platform ? ` [${h.platform}]` : ''}: not compared (${h.error})`)
      continue
    }
    const wrong = h.files.filter((f) => f.result !== 'ok')
    if (wrong.length > 0)
      out.push(
        '',
        table(
          wrong.map((f) => [middle(f.path, TITLE_MAX), f.result, clip(f.detail ?? '')]),
          [`HUB FILE (${where})`, 'RESULT', 'DETAIL'],
        ),
      )
  }
  out.push('', summaryLine(result))
  return out.join('\n')
}

function resultText(b: BlobReport): string {
  if (b.result === 'ok') return b.notes.length > 0 ? `ok (${clip(b.notes[0])})` : 'ok'
  const same = b.problems.filter((p) => p.kind === b.result)
  const more = b.problems.length - 1
  return clip(`${b.result}: ${same[0]?.detail ?? ''}`) + (more > 0 ? ` (+${more} more)` : '')
}

function summaryLine(result: VerifyResult): string {
  const s = result.summary
  const word = result.verdict === 'ok' ? 'OK' : result.verdict === 'wrong' ? 'WRONG' : 'UNCHECKED'
  const ref = result.manifestDigest && !result.reference.includes('@') ? `${result.reference}@${result.manifestDigest}` : result.reference
  const counts = Object.entries(s.byResult)
    .filter(([k]) => k !== 'ok')
    .map(([k, n]) => `${n} ${k}`)
  const parts = [`${plural(s.blobs, 'blob')}, ${s.ok} ok${counts.length > 0 ? `, ${counts.join(', ')}` : ''}`]
  if (result.deep) {
    const files = result.blobs.reduce((n, b) => n + (b.files?.length ?? 0), 0)
    parts.push(`${plural(files, 'file')} re-hashed, ${bytes(s.bytesRead ?? 0)} read`)
  }
  if (s.hubFiles !== undefined) parts.push(`Hub: ${plural(s.hubFiles, 'file')} compared, ${s.hubWrong} wrong`)
  return `${word} ${ref}: ${parts.join('; ')}`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function clip(s: string): string {
  return s.length > DETAIL_MAX ? `${s.slice(0, DETAIL_MAX - 1)}…` : s
}

/** Long paths keep their start and their file name: "deep/nested/…/weights.bin". */
function middle(s: string, max: number): string {
  if (s.length <= max) return s
  const tail = Math.floor((max - 1) / 2)
  return `${s.slice(0, max - 1 - tail)}…${s.slice(s.length - tail)}`
}
