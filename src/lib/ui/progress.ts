// Progress of a push on stderr: it listens to the push's events and never
// schedules work. One view per log style: a live frame on a terminal,
// timestamped lines for logs, the logging commands of Azure Pipelines and
// GitHub Actions, or nothing at all (--quiet).
import {PushEvents} from '../push/events.js'
import {push, type PushOutcome, type PushRequest} from '../push/service.js'
import {resolveLogStyle, type LogStyle} from './log-style.js'
import {azure, ciView, github} from './render/ci.js'
import {lineView} from './render/lines.js'
import {liveView} from './render/live.js'
import type {PushView} from './render/tally.js'
import {withSignals} from './signals.js'

export interface ProgressOptions {
  stream?: NodeJS.WriteStream
  logStyle?: LogStyle
  quiet?: boolean
  verbose?: boolean
}

export function watchPush(events: PushEvents, opts: ProgressOptions = {}): PushView {
  const stream = opts.stream ?? process.stderr
  if (opts.quiet) return {close: async () => undefined}
  // A terminal on both: `push | tee` gets lines, not a frame drawn into a file.
  const terminal = Boolean(stream.isTTY) && Boolean(process.stdout.isTTY)
  const view = {stream, verbose: opts.verbose}
  switch (resolveLogStyle(opts.logStyle ?? 'auto', process.env, terminal)) {
    case 'tty':
      return liveView(events, view)
    case 'azure':
      return ciView(events, azure, view)
    case 'github':
      return ciView(events, github(), view)
    default:
      return lineView(events, {...view, timestamps: true})
  }
}

/**
 * A push with its progress on stderr, stopped by SIGINT/SIGTERM: what `push`
 * and `resume` run. The view is closed before an error leaves, so the error
 * is the last line; after a success it sums the push up.
 */
export async function pushWithProgress(request: PushRequest, opts: ProgressOptions): Promise<PushOutcome> {
  const events = new PushEvents()
  const view = watchPush(events, opts)
  let runId: number | undefined
  events.on('run', (id) => (runId = id))
  // Before a run is recorded nothing is lost: the same command starts over; after, `resume` names it.
  const hint = () => (runId === undefined ? 'Run the same command again to continue.' : `Run \`modelcar resume ${runId}\` to continue.`)
  let outcome: PushOutcome | undefined
  try {
    outcome = await withSignals((signal) => push(request, {events, signal}), hint)
    return outcome
  } finally {
    await view.close(outcome?.result)
  }
}
