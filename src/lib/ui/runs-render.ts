// What `modelcar list` and `modelcar status` print on stdout: a table of
// runs, and per run its files and how to resume it.
import type {ListResult, StatusResult} from '../state/history.js'
import type {FileState, RunDetail} from '../state/report.js'
import {bytes, duration} from './format.js'
import {table} from './output.js'
import {truncateEnd} from './text-width.js'

/** Errors in the STATE column of `status` are cut here; `status ID` prints them whole below the table. */
const STATE_ERROR_MAX = 40

export interface RenderWidth {
  /** Terminal columns; undefined (not a terminal): nothing is cut to fit. */
  width?: number
}

export function renderRunList(result: ListResult, opts: RenderWidth = {}): string {
  if (result.runs.length === 0) return 'No pushes recorded yet.'
  return table(
    result.runs.map((r) => [
      String(r.id),
      r.status,
      `${r.hfRepo}@${r.sha?.slice(0, 12) ?? r.revision}`,
      r.target,
      r.manifestDigest ? r.manifestDigest.slice(0, 19) : '-',
      bytes(r.bytesTotal),
      duration(r.durationSeconds * 1000),
      r.startedAt.replace('T', ' ').slice(0, 19),
    ]),
    ['ID', 'STATUS', 'SOURCE', 'TARGET', 'DIGEST', 'BYTES', 'TIME', 'STARTED'],
    {
      width: opts.width,
      shrink: [
        {column: 3, cut: 'middle', min: 10},
        {column: 2, cut: 'middle', min: 10},
      ],
    },
  )
}

/**
 * `status`: every unfinished run, a failed file's error cut to its column.
 * `status ID` (full): the file's state says "failed" and its whole error follows the table.
 */
export function renderStatus(result: StatusResult, opts: RenderWidth & {full?: boolean} = {}): string {
  return result.runs.length === 0 ? 'No unfinished pushes.' : result.runs.map((r) => renderRunDetail(r, opts)).join('\n\n')
}

function renderRunDetail(run: RunDetail, opts: RenderWidth & {full?: boolean}): string {
  const owner = run.owner ? ` (process ${run.owner.pid} on ${run.owner.host})` : ''
  const lines = [
    `Run ${run.id}  ${run.status}${owner}  ${run.hfRepo}@${run.sha?.slice(0, 12) ?? run.revision} → ${run.target}`,
    `  started ${run.startedAt}, attempt ${run.attempts}${run.error ? `, last error: ${run.error}` : ''}`,
    '',
    indent(
      table(
        run.fileStates.map((f) => [f.path, fileStateText(f, opts.full ?? false), bytes(f.size)]),
        ['FILE', 'STATE', 'SIZE'],
        {
          width: opts.width === undefined ? undefined : opts.width - 2,
          shrink: [
            {column: 1, cut: 'end', min: 20},
            {column: 0, cut: 'middle'},
          ],
        },
      ),
    ),
    ...(opts.full ? run.fileStates.filter((f) => f.state === 'failed').map(failedLine) : []),
    '',
    `  ${bytes(run.bytesDone)} done, ${bytes(run.bytesLeft)} left of ${bytes(run.bytesTotal)}`,
  ]
  if (run.resumeCommand) lines.push(`  Resume with: ${run.resumeCommand}`)
  return lines.join('\n')
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
}

function fileStateText(f: FileState, full: boolean): string {
  if (f.state === 'in progress') return `in progress ${bytes(f.bytesDone)} of ${bytes(f.layerSize)}`
  if (f.state !== 'failed') return f.state
  if (full) return 'failed (see below)'
  return `failed: ${truncateEnd(oneLine(f.error ?? ''), STATE_ERROR_MAX)}`
}

function failedLine(f: FileState): string {
  return `  ${f.path} failed: ${f.error ?? '(no error recorded)'}`
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}
