// What commands print on stdout: plain `KEY=value` lines for scripts and
// cosign, and small aligned tables for people.
import type {PushPlan} from '../push/plan.js'
import type {PushResult} from '../push/run.js'
import type {RunDetail, RunSummary} from '../state/report.js'
import {bytes, duration} from './format.js'

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
    `registry profile: ${plan.profile.name} (${plan.params.uploadMode === 'auto' ? `${plan.profile.mode} uploads` : `${plan.params.uploadMode} uploads, forced`})`,
    ...plan.warnings.map((w) => `warning: ${w}`),
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

export function renderRunDetail(run: RunDetail): string {
  const owner = run.owner ? ` (process ${run.owner.pid} on ${run.owner.host})` : ''
  const lines = [
    `Run ${run.id}  ${run.status}${owner}  ${run.hfRepo}@${run.sha?.slice(0, 12) ?? run.revision} → ${run.target}`,
    `  started ${run.startedAt}, attempt ${run.attempts}${run.error ? `, last error: ${run.error}` : ''}`,
    '',
    table(run.fileStates.map((f) => [
      f.path,
      f.state === 'in progress' ? `in progress ${bytes(f.bytesDone)} of ${bytes(f.layerSize)}` : f.state === 'failed' ? `failed: ${f.error ?? ''}` : f.state,
      bytes(f.size),
    ]), ['FILE', 'STATE', 'SIZE']).split('\n').map((l) => `  ${l}`).join('\n'),
    '',
    `  ${bytes(run.bytesDone)} done, ${bytes(run.bytesLeft)} left of ${bytes(run.bytesTotal)}`,
  ]
  if (run.resumeCommand) lines.push(`  Resume with: ${run.resumeCommand}`)
  return lines.join('\n')
}

export function renderRunList(runs: RunSummary[]): string {
  if (runs.length === 0) return 'No pushes recorded yet.'
  return table(runs.map((r) => [
    String(r.id), r.status, `${r.hfRepo}@${r.sha?.slice(0, 12) ?? r.revision}`, r.target,
    r.manifestDigest ? r.manifestDigest.slice(0, 19) : '-', bytes(r.bytesTotal), duration(r.durationSeconds * 1000), r.startedAt.replace('T', ' ').slice(0, 19),
  ]), ['ID', 'STATUS', 'SOURCE', 'TARGET', 'DIGEST', 'BYTES', 'TIME', 'STARTED'])
}
