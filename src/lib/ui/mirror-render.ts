// What `modelcar mirror` prints: one line per entry on stderr as it starts
// and ends, and one summary table on stdout, fitted to the terminal.
import type {MirrorEntryResult, MirrorEvents} from '../mirror/service.js'
import type {MirrorUnit, Shard} from '../mirror/units.js'
import {bytes, duration} from './format.js'
import {table} from './output.js'

function entryLabel(r: {entry: number; hfRepo: string; revision: string}): string {
  return `[${r.entry}] ${r.hfRepo}@${r.revision}`
}

export function renderMirror(results: MirrorEntryResult[], shard: Shard, width?: number): string {
  if (results.length === 0) return `No entries for shard ${shard.index} of ${shard.count}.`
  const rows = results.map((r) => [
    entryLabel(r),
    r.imageRef,
    r.outcome,
    r.outcome === 'failed' ? '-' : bytes(r.bytesUploaded),
    duration(r.seconds * 1000),
    r.error ?? r.digest ?? '-',
  ])
  const count = (o: MirrorEntryResult['outcome']) => results.filter((r) => r.outcome === o).length
  const counts = (['pushed', 'current', 'partial', 'failed'] as const).filter((o) => count(o) > 0).map((o) => `${count(o)} ${o}`)
  const uploaded = results.reduce((n, r) => n + r.bytesUploaded, 0)
  return [
    table(rows, ['ENTRY', 'IMAGE', 'OUTCOME', 'UPLOADED', 'TIME', 'DIGEST / ERROR'], {
      width,
      shrink: [
        {column: 5, cut: 'end', min: 19},
        {column: 1, cut: 'middle', min: 16},
        {column: 0, cut: 'middle', min: 16},
      ],
    }),
    '',
    `${results.length} ${results.length === 1 ? 'entry' : 'entries'}${shard.count > 1 ? ` (shard ${shard.index} of ${shard.count})` : ''}: ` +
      `${counts.join(', ')}; ${bytes(uploaded)} uploaded`,
    // Errors whole when the table was fitted to a terminal (and may have cut them).
    ...(width === undefined ? [] : results.filter((r) => r.error).map((r) => `${entryLabel(r)} failed: ${r.error}`)),
  ].join('\n')
}

/** --dry-run: which entries this shard would take, and where they go. */
export function renderMirrorPlan(units: MirrorUnit[], shard: Shard, total: number, width?: number): string {
  const rows = units.map((u) => [
    entryLabel({entry: u.entry, hfRepo: u.params.hfRepo, revision: u.revision}),
    `${u.params.registry.display}/${u.params.targetRepo}:${u.params.targetTag ?? '<commit>'}`,
    u.params.split ? `files ${u.params.split.index}/${u.params.split.count}` : 'whole',
  ])
  return [
    table(rows, ['ENTRY', 'IMAGE', 'SHARE'], {width, shrink: [{column: 1, cut: 'middle', min: 16}]}),
    '',
    `shard ${shard.index} of ${shard.count}: ${units.length} of ${total} images`,
  ].join('\n')
}

/** Progress lines on stderr (not with --quiet); retries only with --verbose. */
export function watchMirror(events: MirrorEvents, opts: {stream?: NodeJS.WritableStream; verbose?: boolean} = {}): void {
  const out = opts.stream ?? process.stderr
  const label = (u: MirrorUnit) => entryLabel({entry: u.entry, hfRepo: u.params.hfRepo, revision: u.revision})
  const say = (line: string) => out.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
  events.on('entryStarted', (u, ref) => say(`${label(u)}: pushing to ${ref}`))
  events.on('entryDone', (r) => {
    const how =
      r.outcome === 'failed'
        ? `failed: ${r.error}`
        : r.outcome === 'current'
          ? `current (${r.imageRef} holds ${r.sha?.slice(0, 12)})`
          : `${r.outcome} ${r.imageRef} (${bytes(r.bytesUploaded)} in ${duration(r.seconds * 1000)})`
    say(`${entryLabel(r)}: ${how}`)
  })
  events.on('warning', (u, m) => say(`${label(u)}: warning: ${m}`))
  // A line per file, so a long push is never silent in a pod's log.
  events.on('file', (u, path, size, outcome) => say(`${label(u)}: ${path} ${outcome} (${bytes(size)})`))
  if (opts.verbose) events.on('retry', (u, m) => say(`${label(u)}: retry: ${m}`))
}
