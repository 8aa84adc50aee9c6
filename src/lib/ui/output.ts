// What push and resume print on stdout: plain `KEY=value` lines for scripts
// and cosign; and the small aligned tables every renderer uses.
import type {PushPlan} from '../push/plan.js'
import {plannedReuse, type Discovery} from '../push/discover.js'
import type {PushResult} from '../push/execute.js'
import {platformText} from '../oci/image.js'
import {bytes} from './format.js'
import {padEnd, terminalWidth, textWidth, truncateEnd, truncateMiddle} from './text-width.js'

export interface TableFit {
  /** Columns available (the terminal's); undefined: no limit, nothing is cut. */
  width?: number
  /** Columns that give up room when the table is too wide, in this order: paths lose their middle, text its end. */
  shrink?: Array<{column: number; cut: 'middle' | 'end'; min?: number}>
}

const GAP = 2
const MIN_COLUMN = 12

/** Rows aligned in columns measured in terminal cells (CJK and emoji count two), cut to fit `fit.width`. */
export function table(rows: string[][], header?: string[], fit: TableFit = {}): string {
  let all = header ? [header, ...rows] : rows
  const widths = all[0]?.map((_, i) => Math.max(...all.map((r) => textWidth(r[i] ?? '')))) ?? []
  if (fit.width !== undefined && widths.length > 0) {
    let excess = widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1) - fit.width
    for (const s of fit.shrink ?? []) {
      if (excess <= 0) break
      // Never narrower than the column's header, which is not cut.
      const min = Math.min(widths[s.column], Math.max(s.min ?? MIN_COLUMN, header ? textWidth(header[s.column] ?? '') : 0))
      const give = Math.min(excess, widths[s.column] - min)
      if (give <= 0) continue
      widths[s.column] -= give
      excess -= give
      const cut = s.cut === 'middle' ? truncateMiddle : truncateEnd
      all = all.map((r, j) => (header && j === 0 ? r : r.map((c, i) => (i === s.column ? cut(c, widths[i]) : c))))
    }
  }
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : padEnd(c, widths[i]))).join(' '.repeat(GAP))).join('\n')
}

export function renderPlan(plan: PushPlan, width: number | undefined = terminalWidth(), discovery?: Discovery): string {
  const reuse = plan.files.map((f) => plannedReuse(f, discovery, plan.params.targetRepo))
  const rows = plan.files.map((f, i) => [
    f.path,
    bytes(f.size),
    String(f.layerSize),
    f.lfsSha256 ? 'lfs' : '',
    ...(discovery ? [reuse[i] ? `reuse ${reuse[i]}` : 'upload'] : []),
  ])
  const header = ['FILE', 'SIZE', 'LAYER BYTES', '', ...(discovery ? ['REGISTRY'] : [])]
  const shrink = [{column: 0, cut: 'middle' as const}, ...(discovery ? [{column: 4, cut: 'end' as const}] : [])]
  return [
    `${plan.params.hfRepo}@${plan.sha} (${plan.params.revision}) → ${plan.imageRef}`,
    '',
    table(rows, header, {width, shrink}),
    '',
    `${plan.files.length} files, ${bytes(plan.totalBytes)} (${plan.totalLayerBytes} layer bytes)`,
    ...(discovery ? [discoveryLine(discovery, reuse.filter(Boolean).length, plan.files.length)] : []),
    plan.params.layout
      ? `target: OCI image layout ${plan.params.layout}`
      : `registry profile: ${plan.profile.name} (${plan.params.uploadMode === 'auto' ? `${plan.profile.mode} uploads` : `${plan.params.uploadMode} uploads, forced`})`,
    ...imageLines(plan),
    ...plan.warnings.map((w) => `warning: ${w}`),
    `IMAGEREF=${plan.imageRef}`,
  ].join('\n')
}

/** What --dry-run learnt from the registry, or why it could not ask. */
function discoveryLine(d: Discovery, reused: number, files: number): string {
  if (d.skipped) return `registry discovery skipped (${d.skipped}): every file would be uploaded unless the state database knows it`
  return `registry: ${d.manifestsRead} manifest(s) read; ${reused} of ${files} files would be reused (checked with HEAD when the push runs)`
}

/** What the image is built on and how it is listed, when the push asks for more than FROM scratch. */
function imageLines(plan: PushPlan): string[] {
  const {baseImage, platforms, modelpack} = plan.params
  const base = plan.base ? `${plan.base.image.name}@${plan.base.image.digest}` : `${baseImage} (resolved to a digest when the push starts)`
  return [
    ...(baseImage ? [`base image: ${base}`] : []),
    ...(platforms?.length ? [`platforms: ${platforms.map(platformText).join(', ')} (one index)`] : []),
    ...(modelpack ? ['ModelPack manifest: in the index, over the same layers'] : []),
  ]
}

export function renderPushResult(result: PushResult): string {
  const lines = [`MANIFESTDIGEST=${result.manifestDigest}`, `IMAGEREF=${result.imageRef}`, `IMAGEREFDIGEST=${result.imageRefDigest}`]
  // A split shard that is not the last: the references name its partial manifest.
  if (result.complete === false) lines.push('COMPLETE=false', `WAITINGFOR=${(result.waitingFor ?? []).join(',')}`)
  return lines.join('\n')
}
