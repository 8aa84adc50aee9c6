// The service behind `modelcar mirror`: this shard's units, a few at a time
// (--concurrency), each first checked against its target tag (current: no
// push) and otherwise pushed by the push service as a normal run in the state
// database. A failed unit is recorded and the others go on; only an
// interrupt stops them all. It renders nothing: MirrorEvents carries progress.
import {EventEmitter} from 'node:events'
import type {NetworkOptions} from '../clients.js'
import {errorText, EXIT, ModelcarError} from '../errors.js'
import {PushEvents, type FileOutcome} from '../push/events.js'
import {runPool} from '../push/pool.js'
import {push} from '../push/service.js'
import {targetState} from './current.js'
import type {MirrorUnit, Shard} from './units.js'

export type MirrorOutcome = 'pushed' | 'current' | 'failed' | 'partial'

export interface MirrorEntryResult {
  /** Index in the file's `models:` list. */
  entry: number
  hfRepo: string
  revision: string
  sha?: string
  imageRef: string
  outcome: MirrorOutcome
  /** Bytes this process uploaded for the entry. */
  bytesUploaded: number
  seconds: number
  digest?: string
  /** The run in the state database (`modelcar status ID`, `resume ID`); none when current. */
  runId?: number
  error?: string
  /** What the push said although it went on (registry limits, a tag another push moved). */
  warnings?: string[]
  split?: Shard
}

export interface MirrorEventMap {
  entryStarted: [unit: MirrorUnit, imageRef: string]
  entryDone: [result: MirrorEntryResult]
  /** Worth saying although the entry's push goes on. */
  warning: [unit: MirrorUnit, message: string]
  /** A file of the entry is in the registry: uploaded, or found there already (exists, mounted). */
  file: [unit: MirrorUnit, path: string, size: number, outcome: FileOutcome]
  /** A request of the entry tried again. */
  retry: [unit: MirrorUnit, message: string]
}

export class MirrorEvents extends EventEmitter<MirrorEventMap> {}

export interface MirrorRequest {
  units: MirrorUnit[]
  concurrency: number
  stateDb: string
  network: Pick<NetworkOptions, 'maxRetries' | 'stallTimeoutS' | 'tlsVerify'>
}

export async function mirror(
  req: MirrorRequest,
  opts: {events?: MirrorEvents; signal?: AbortSignal; env?: NodeJS.ProcessEnv} = {},
): Promise<MirrorEntryResult[]> {
  const events = opts.events ?? new MirrorEvents()
  const results = new Map<MirrorUnit, MirrorEntryResult>()
  await runPool(
    req.units,
    req.concurrency,
    async (unit, signal) => {
      const result = await mirrorUnit(unit, req, events, signal, opts.env)
      results.set(unit, result)
      events.emit('entryDone', result)
    },
    {failFast: false, signal: opts.signal},
  )
  // In the file's order, whatever order they finished in.
  return req.units.map((u) => results.get(u)!)
}

async function mirrorUnit(
  unit: MirrorUnit,
  req: MirrorRequest,
  events: MirrorEvents,
  signal: AbortSignal,
  env: NodeJS.ProcessEnv | undefined,
): Promise<MirrorEntryResult> {
  const started = Date.now()
  const p = unit.params
  const target = `${p.registry.display}/${p.targetRepo}`
  const base = {entry: unit.entry, hfRepo: p.hfRepo, revision: unit.revision, ...(p.split ? {split: p.split} : {})}
  const seconds = () => (Date.now() - started) / 1000
  const net: NetworkOptions = {...req.network, env, onRetry: (m) => events.emit('retry', unit, m)}
  let imageRef = p.targetTag ? `${target}:${p.targetTag}` : target
  let sha: string | undefined
  let runId: number | undefined
  const warnings: string[] = []
  const warn = (m: string) => {
    warnings.push(m)
    events.emit('warning', unit, m)
  }
  try {
    const state = await targetState(p, net)
    sha = state.sha
    imageRef = `${target}:${state.tag}`
    if (state.currentDigest)
      return {...base, sha, imageRef, outcome: 'current', bytesUploaded: 0, seconds: seconds(), digest: state.currentDigest}
    events.emit('entryStarted', unit, imageRef)
    const pushEvents = new PushEvents()
    pushEvents.on('run', (id) => (runId = id))
    pushEvents.on('plan', (plan) => plan.warnings.forEach(warn))
    pushEvents.on('warning', warn)
    pushEvents.on('retry', (m) => events.emit('retry', unit, m))
    pushEvents.on('fileDone', (f) => events.emit('file', unit, f.path, f.size, 'uploaded'))
    pushEvents.on('fileSkipped', (f, _r, outcome) => events.emit('file', unit, f.path, f.size, outcome))
    const {plan, result} = await push({...p, dryRun: false, stateDb: req.stateDb, ...req.network}, {events: pushEvents, signal, env})
    const r = result!
    return {
      ...base,
      sha: plan.sha,
      imageRef: plan.imageRef,
      // A split share that left the image to the shard that finds every layer present
      // (its manifestDigest names its partial manifest, not the image).
      outcome: r.complete === false ? 'partial' : 'pushed',
      bytesUploaded: r.bytesUploaded,
      seconds: seconds(),
      ...(r.complete === false ? {} : {digest: r.manifestDigest}),
      runId: r.runId ?? runId,
      ...(warnings.length > 0 ? {warnings} : {}),
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason
    return {
      ...base,
      ...(sha ? {sha} : {}),
      imageRef,
      outcome: 'failed',
      bytesUploaded: 0,
      seconds: seconds(),
      ...(runId === undefined ? {} : {runId}),
      error: inFileWords(errorText(error)),
      ...(warnings.length > 0 ? {warnings} : {}),
    }
  }
}

/** push's flags as the mirror file names them: an entry's error points at the key to fix, not at a flag nobody typed. */
const FILE_WORDS: Array<[RegExp, string]> = [
  [/--hf-repo\b/g, "the entry's repo"],
  [/--hf-revision\b/g, "the entry's revision"],
  [/--target-repo\b/g, "the entry's target"],
  [/--target-tag\b/g, "the entry's tags"],
  [/--registry\b/g, 'registry'],
]

export function inFileWords(message: string): string {
  return FILE_WORDS.reduce((text, [flag, key]) => text.replace(flag, key), message)
}

/** Some entries failed (exit 1); the others were mirrored. */
export class MirrorFailedError extends ModelcarError {
  constructor(readonly results: MirrorEntryResult[]) {
    const failed = results.filter((r) => r.outcome === 'failed')
    super(
      `${failed.length} of ${results.length} entries failed (${failed
        .slice(0, 3)
        .map((r) => `models[${r.entry}] ${r.hfRepo}@${r.revision}`)
        .join(', ')}${failed.length > 3 ? ', …' : ''}): fix the cause and run the mirror again; the others are not pushed twice.`,
      {code: 'E_MIRROR_FAILED', exitCode: EXIT.failure},
    )
    this.name = 'MirrorFailedError'
  }
}
