// What commands print on stdout: plain `KEY=value` lines for scripts and
// cosign, and small aligned tables for people.
import type {PushPlan} from '../push/plan.js'
import type {PushResult} from '../push/run.js'
import {bytes} from './format.js'

export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows
  const widths = all[0]?.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length))) ?? []
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')
}

export function renderPlan(plan: PushPlan): string {
  const rows = plan.files.map((f) => [f.path, bytes(f.size), String(f.layerSize), f.lfsSha256 ? 'lfs' : ''])
  return [
    `${plan.params.hfRepo}@${plan.sha} (${plan.params.revision}) → ${plan.imageRef}`,
    '',
    table(rows, ['FILE', 'SIZE', 'LAYER BYTES', '']),
    '',
    `${plan.files.length} files, ${bytes(plan.totalBytes)} (${plan.totalLayerBytes} layer bytes)`,
    `IMAGEREF=${plan.imageRef}`,
  ].join('\n')
}

export function renderPushResult(result: PushResult): string {
  return [
    `MANIFESTDIGEST=${result.manifestDigest}`,
    `IMAGEREF=${result.imageRef}`,
    `IMAGEREFDIGEST=${result.imageRefDigest}`,
  ].join('\n')
}
