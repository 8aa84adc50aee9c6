// The push live on a terminal: a frame redrawn in place, with a row per
// running file and a footer of totals (files, bytes, rate, ETA). Finished
// files fold into the count, so a repo of hundreds of files keeps its totals
// on an 80x24 screen; failures and lines about the whole push are printed
// above the frame and stay. On close the frame gives way to the last totals
// and, after a success, the summary.
import {figures} from 'listr2'
import type {PushEvents} from '../../push/events.js'
import {errorMessage, logPushLines, PushTally, type PushView, type TextSink, type ViewOptions} from './tally.js'

/** A terminal: its size decides how many rows fit. */
export type Terminal = TextSink & {columns?: number; rows?: number}

/** The frame is redrawn at most this often: the terminal need not repaint more. */
const FRAME_EVERY_MS = 100
const ESC = '\u001B['

export function liveView(events: PushEvents, opts: ViewOptions & {stream: Terminal; color?: boolean; frameMs?: number}): PushView {
  const clock = opts.clock ?? Date.now
  const tally = new PushTally(events, clock)
  const term = opts.stream
  const paint = (code: number, text: string) => ((opts.color ?? !process.env.NO_COLOR) ? `${ESC}${code}m${text}${ESC}0m` : text)
  let drawn = 0
  let started = false

  const frame = (): string[] => {
    const width = Math.max(20, (term.columns ?? 80) - 1)
    const room = Math.max(1, (term.rows ?? 24) - 2)
    const running = [...tally.running.values()]
    const shown = running.length > room ? running.slice(0, room - 1) : running
    const rows = shown.map(({file}) => `${paint(33, figures.pointer)} ${tally.progressTitle(file)}`)
    if (shown.length < running.length) rows.push(`  … and ${running.length - shown.length} more running`)
    return [...rows, `${paint(1, tally.totals())}`].map((row) => fit(row, width))
  }
  /** Back to the frame's first row and clear below (`ESC[0A` would still move a row on most terminals). */
  const erasing = (): string => {
    const up = drawn > 1 ? `${ESC}${drawn - 1}A` : ''
    const codes = drawn > 0 ? `\r${up}${ESC}J` : ''
    drawn = 0
    return codes
  }
  // One write per repaint, so the terminal never shows a half-drawn frame.
  const draw = (before = '') => {
    const lines = frame()
    term.write(`${erasing()}${before}${lines.join('\n')}`)
    drawn = lines.length
  }
  /** A line that stays: printed above the frame. */
  const print = (line: string) => {
    if (started) draw(`${line}\n`)
    else term.write(`${erasing()}${line}\n`)
  }

  logPushLines(events, print, opts.verbose)
  events.on('fileStarted', () => {
    if (!started) term.write(`${ESC}?25l`)
    started = true
  })
  events.on('fileFailed', (file, error) => print(`${paint(31, figures.cross)} ${file.path}: ${errorMessage(error)}`))
  const timer = setInterval(() => {
    if (started) draw()
  }, opts.frameMs ?? FRAME_EVERY_MS)
  timer.unref()

  return {
    async close(result) {
      clearInterval(timer)
      const codes = erasing()
      if (started) term.write(`${codes}${tally.totals()}\n${ESC}?25h`)
      if (result) term.write(`${paint(32, figures.tick)} ${tally.summary(result)}\n`)
    },
  }
}

/** Cut a row to the terminal's width: a wrapped row would break the redraw. Escape codes take no room. */
function fit(row: string, width: number): string {
  let visible = 0
  let out = ''
  for (const part of row.split(/(\u001B\[[0-9;?]*[A-Za-z])/)) {
    if (part.startsWith(ESC)) {
      out += part
      continue
    }
    const chars = [...part]
    if (visible + chars.length > width) {
      return `${out}${chars.slice(0, Math.max(0, width - visible - 1)).join('')}…${out.includes(ESC) ? `${ESC}0m` : ''}`
    }
    visible += chars.length
    out += part
  }
  return out
}
