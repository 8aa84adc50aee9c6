// Per-file progress with listr2 on stderr: the live renderer on a terminal,
// plain lines (plus a periodic heartbeat) otherwise, so CI logs stay readable.
// listr2 runs the file tasks, so it is also the push's scheduler here.
import {Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper} from 'listr2'
import {failureGroup, type Scheduler} from '../push/pool.js'
import type {PushEvents} from '../push/run.js'
import type {PlannedFile} from '../push/plan.js'
import {bytes, rate} from './format.js'

type AnyTask = ListrTaskWrapper<unknown, any, any>

export interface Progress {
  scheduler: Scheduler
  events: PushEvents
  /** Total layer bytes of the push, for the heartbeat line. */
  expect(totalBytes: number): void
  log(line: string): void
  stop(): void
}

export function createProgress(opts: {stream?: NodeJS.WriteStream; tty?: boolean; heartbeatMs?: number; verbose?: boolean} = {}): Progress {
  const stream = opts.stream ?? process.stderr
  const tty = opts.tty ?? Boolean(stream.isTTY)
  const tasks = new Map<string, AnyTask>()
  const started = new Map<string, number>()
  const lastTitle = new Map<string, number>()
  let total = 0
  let done = 0
  let moved = 0
  const perFile = new Map<string, number>()
  const begin = Date.now()
  const log = (line: string) => stream.write(`${line}\n`)
  const heartbeat = tty ? undefined : setInterval(() => {
    if (total > 0) log(`progress: ${bytes(moved)} of ${bytes(total)} (${rate(moved, Date.now() - begin)}), ${done} of ${tasksTotal} files done`)
  }, opts.heartbeatMs ?? 10_000)
  heartbeat?.unref()
  let tasksTotal = 0

  const scheduler: Scheduler = async (items, concurrency, work, o) => {
    const group = failureGroup<(typeof items)[number]>(o)
    tasksTotal = items.length
    const logger = new ListrLogger({processOutput: new ProcessOutput(stream, stream)})
    const list = new Listr(items.map((item) => ({
      title: o.label(item),
      task: async (_ctx: unknown, task: AnyTask) => {
        if (group.signal.aborted) return task.skip('cancelled')
        tasks.set(o.label(item), task)
        await group.run(item, work)
      },
    })), {
      concurrent: concurrency,
      exitOnError: false,
      registerSignalListeners: false,
      renderer: tty ? 'default' : 'simple',
      fallbackRendererCondition: false,
      rendererOptions: {logger, collapseErrors: false} as never,
    })
    await list.run()
    return group.finish()
  }

  const title = (file: PlannedFile, layerBytes: number) => {
    const ms = Date.now() - (started.get(file.path) ?? Date.now())
    return `${file.path}  ${bytes(layerBytes)} / ${bytes(file.layerSize)}  ${rate(layerBytes, ms)}`
  }

  const events: PushEvents = {
    fileStart(file) {
      started.set(file.path, Date.now())
    },
    fileProgress(file, layerBytes) {
      moved += layerBytes - (perFile.get(file.path) ?? 0)
      perFile.set(file.path, layerBytes)
      const now = Date.now()
      if (tty && now - (lastTitle.get(file.path) ?? 0) > 200) {
        lastTitle.set(file.path, now)
        const task = tasks.get(file.path)
        if (task) task.title = title(file, layerBytes)
      }
    },
    fileDone(file, result, outcome) {
      done++
      moved += file.layerSize - (perFile.get(file.path) ?? 0)
      perFile.set(file.path, file.layerSize)
      const task = tasks.get(file.path)
      const how = outcome === 'uploaded' ? rate(file.layerSize, Date.now() - (started.get(file.path) ?? Date.now())) : outcome === 'exists' ? 'already in registry' : 'mounted from another repository'
      if (task) task.title = `${file.path}  ${bytes(file.layerSize)}  ${result.digest.slice(7, 19)}  ${how}`
    },
    retry(message) {
      if (opts.verbose) log(`retry: ${message}`)
    },
    phase(message) {
      log(message)
    },
  }
  return {
    scheduler,
    events,
    expect(totalBytes) {
      total = totalBytes
    },
    log,
    stop() {
      if (heartbeat) clearInterval(heartbeat)
    },
  }
}
