// What every push view shares: the running totals (in file bytes, as people
// know their files, not tar layer bytes), the titles, the closing summary, and
// the log lines that are not about one file's progress.
import type {FileOutcome, PushEvents} from '../../push/events.js'
import type {PushResult} from '../../push/execute.js'
import {shortDigest} from '../../oci/digest.js'
import type {PlannedFile} from '../../push/plan.js'
import type {LayerResult} from '../../push/transfer.js'
import {bytes, duration} from '../format.js'

/** Where a view writes: stderr, or anything with write() in tests. */
export interface TextSink {
  write(text: string): unknown
}

export interface ViewOptions {
  stream: TextSink
  /** Show retries and resumed sessions. */
  verbose?: boolean
  /** Milliseconds since the epoch (tests pin it). */
  clock?: () => number
}

/** A view listens from creation; close() settles what is left (files never started), stops its timers and, after a push that
 * succeeded, sums it up. */
export interface PushView {
  close(result?: PushResult): Promise<void>
}

/** Below these a rate says more about timers than about the network. */
const RATE_MIN_MS = 1000
const RATE_MIN_BYTES = 1024 * 1024

/** MB/s, or undefined when too little moved for too short a time to mean anything. */
export function meaningfulRate(moved: number, ms: number): string | undefined {
  if (ms < RATE_MIN_MS || moved < RATE_MIN_BYTES) return undefined
  return `${(moved / 1e6 / (ms / 1000)).toFixed(1)} MB/s`
}

export class PushTally {
  /** File bytes of every queued file. */
  totalBytes = 0
  files = 0
  done = 0
  failed = 0
  /** File bytes moved so far (a file's share of its layer's progress). */
  moved = 0
  readonly begin: number
  /** Running files in the order they started, with their file bytes moved. */
  readonly running = new Map<string, {file: PlannedFile; moved: number}>()
  private readonly perFile = new Map<string, number>()
  private readonly started = new Map<string, number>()
  private readonly sizes = new Map<string, number>()

  constructor(
    events: PushEvents,
    private readonly clock: () => number,
  ) {
    this.begin = clock()
    // Counted as the files are queued, once the registry answered: no heartbeat before.
    events.on('fileQueued', (file) => {
      this.totalBytes += file.size
      this.files++
      this.sizes.set(file.path, file.size)
    })
    events.on('fileStarted', (file) => {
      this.started.set(file.path, this.clock())
      this.running.set(file.path, {file, moved: this.perFile.get(file.path) ?? 0})
    })
    events.on('fileProgress', (file, layerBytes) => this.move(file, fileShare(file, layerBytes)))
    events.on('fileDone', (file) => this.finish(file))
    events.on('fileSkipped', (file) => this.finish(file))
    events.on('fileFailed', (file) => {
      this.failed++
      this.running.delete(file.path)
    })
  }

  elapsedMs(): number {
    return this.clock() - this.begin
  }

  /** Seconds left at the rate so far, once there is a rate to go by. */
  eta(): string | undefined {
    const ms = this.elapsedMs()
    if (!meaningfulRate(this.moved, ms) || this.moved >= this.totalBytes) return undefined
    return duration(((this.totalBytes - this.moved) / this.moved) * ms)
  }

  /** `12/131 files  1.2 MiB / 3.4 MiB  2.1 MB/s  ETA 3s`, the parts that mean something. */
  totals(): string {
    const speed = meaningfulRate(this.moved, this.elapsedMs())
    const eta = this.eta()
    return [
      `${this.done}/${this.files} files`,
      `${bytes(this.moved)} / ${bytes(this.totalBytes)}`,
      ...(speed ? [speed] : []),
      ...(eta ? [`ETA ${eta}`] : []),
      ...(this.failed ? [`${this.failed} failed`] : []),
    ].join('  ')
  }

  heartbeat(): string {
    const speed = meaningfulRate(this.moved, this.elapsedMs())
    const eta = this.eta()
    return (
      `progress: ${bytes(this.moved)} of ${bytes(this.totalBytes)}${speed ? ` (${speed})` : ''}` +
      `, ${this.done} of ${this.files} files done${eta ? `, ETA ${eta}` : ''}`
    )
  }

  /** A running file: `path  1.2 MiB / 4.0 MiB  2.1 MB/s`. */
  progressTitle(file: PlannedFile): string {
    const moved = this.running.get(file.path)?.moved ?? this.perFile.get(file.path) ?? 0
    const speed = meaningfulRate(moved, this.elapsed(file))
    return `${file.path}  ${bytes(moved)} / ${bytes(file.size)}${speed ? `  ${speed}` : ''}`
  }

  finishedTitle(file: PlannedFile, result: LayerResult, outcome: FileOutcome): string {
    const how =
      outcome === 'uploaded'
        ? meaningfulRate(file.size, this.elapsed(file))
        : outcome === 'exists'
          ? 'already in registry'
          : 'mounted from another repository'
    return `${file.path}  ${bytes(file.size)}  ${shortDigest(result.digest)}${how ? `  ${how}` : ''}`
  }

  /** The closing line of a push that succeeded: what moved, what the registry had, how long, how fast, and the digest. */
  summary(result: PushResult): string {
    const sum = (outcome: FileOutcome) => {
      const files = result.files.filter((f) => f.outcome === outcome)
      return {count: files.length, bytes: files.reduce((n, f) => n + (this.sizes.get(f.path) ?? 0), 0)}
    }
    const [uploaded, mounted, exists] = [sum('uploaded'), sum('mounted'), sum('exists')]
    const speed = meaningfulRate(uploaded.bytes, result.seconds * 1000)
    // One line of an 80-column terminal for a first push: reused (mounted from another repository) and skipped (already in
    // the registry) only when there were any.
    return [
      `pushed ${result.files.length} file${result.files.length === 1 ? '' : 's'} in ${duration(result.seconds * 1000)}` +
        `: ${bytes(uploaded.bytes)} uploaded${speed ? ` (${speed})` : ''}`,
      ...(mounted.count ? [`${bytes(mounted.bytes)} reused`] : []),
      ...(exists.count ? [`${bytes(exists.bytes)} skipped`] : []),
      `digest ${shortDigest(result.manifestDigest)}`,
    ].join(', ')
  }

  private elapsed(file: PlannedFile): number {
    const started = this.started.get(file.path)
    return started === undefined ? 0 : this.clock() - started
  }

  private move(file: PlannedFile, fileBytes: number): void {
    this.moved += fileBytes - (this.perFile.get(file.path) ?? 0)
    this.perFile.set(file.path, fileBytes)
    const running = this.running.get(file.path)
    if (running) running.moved = fileBytes
  }

  private finish(file: PlannedFile): void {
    this.done++
    this.move(file, file.size)
    this.running.delete(file.path)
  }
}

/** A file's share of its layer's bytes: the tar headers and padding are not the user's bytes. */
function fileShare(file: PlannedFile, layerBytes: number): number {
  return file.layerSize > 0 ? Math.min(file.size, Math.round((layerBytes / file.layerSize) * file.size)) : 0
}

/** The lines about the push as a whole: warnings, resumes, mode changes, phases, and (verbose) retries. */
export function logPushLines(
  events: PushEvents,
  log: (line: string) => void,
  verbose?: boolean,
  warn = (warning: string) => log(`warning: ${warning}`),
): void {
  events.on('plan', (plan) => {
    for (const warning of plan.warnings) warn(warning)
  })
  events.on('runResumed', (runId) => log(`Resuming run ${runId}`))
  events.on('uploadModeLearnt', ({registry, mode, why, refused}) => {
    if (refused) log(`${registry} refused the previous upload mode (${why}): using ${mode} uploads from now on`)
    else log(`${registry}: ${why}; using ${mode} uploads from now on (fewer requests to lose)`)
  })
  events.on('phase', (message) => log(message))
  events.on('warning', warn)
  if (!verbose) return
  events.on('route', (message) => log(`route: ${message}`))
  events.on('retry', (message) => log(`retry: ${message}`))
  events.on('fileResumed', (file, offset) => log(`retry: resuming ${file.path} at byte ${offset} of ${file.layerSize}`))
  events.on('discovered', (d) => {
    log(`discovery: ${d.manifestsRead} manifest(s) read, layers of ${d.layers.size} file path(s) known`)
    for (const note of d.notes) log(`discovery: ${note}`)
  })
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
