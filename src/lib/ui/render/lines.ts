// The push as plain lines, for logs (the `text` log style): a line when a file
// starts and one when it ends, in listr2's symbols; every 10 s a heartbeat
// with the totals and ETA, and a line per running file. Never a carriage
// return. With timestamps, each line starts with its ISO time.
import {figures} from 'listr2'
import type {PushEvents} from '../../push/events.js'
import type {PlannedFile} from '../../push/plan.js'
import {errorMessage, logPushLines, PushTally, type PushView, type ViewOptions} from './tally.js'

export function lineView(events: PushEvents, opts: ViewOptions & {heartbeatMs?: number; timestamps?: boolean}): PushView {
  const clock = opts.clock ?? Date.now
  const tally = new PushTally(events, clock)
  const log = (line: string) => opts.stream.write(opts.timestamps ? `${new Date(clock()).toISOString()} ${line}\n` : `${line}\n`)
  const waiting = new Map<string, PlannedFile>()
  logPushLines(events, log, opts.verbose)
  events.on('fileQueued', (file) => waiting.set(file.path, file))
  events.on('fileStarted', (file) => {
    waiting.delete(file.path)
    log(`${figures.pointer} ${file.path}`)
  })
  events.on('fileDone', (file, result) => log(`${figures.tick} ${tally.finishedTitle(file, result, 'uploaded')}`))
  events.on('fileSkipped', (file, result, outcome) => log(`${figures.tick} ${tally.finishedTitle(file, result, outcome)}`))
  events.on('fileFailed', (file, error) => log(`${figures.cross} ${file.path} [FAILED: ${errorMessage(error)}]`))
  const heartbeat = setInterval(() => {
    if (tally.files === 0) return
    log(tally.heartbeat())
    for (const {file} of tally.running.values()) log(`  ${tally.progressTitle(file)}`)
  }, opts.heartbeatMs ?? 10_000)
  heartbeat.unref()
  return {
    async close(result) {
      clearInterval(heartbeat)
      // Files the push never started (it failed fast or was interrupted).
      for (const file of waiting.values()) log(`${figures.arrowDown} ${file.path} [SKIPPED: cancelled]`)
      waiting.clear()
      if (result) log(tally.summary(result))
    },
  }
}
