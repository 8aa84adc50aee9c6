// What a push tells the world as it goes. The push schedules its own work and
// never renders: a terminal view, a log view or a library caller listens here.
import {EventEmitter} from 'node:events'
import type {UploadMode} from '../oci/profiles.js'
import type {Discovery} from './discover.js'
import type {PlannedFile, PushPlan} from './plan.js'
import type {LayerResult} from './transfer.js'

export type FileOutcome = 'uploaded' | 'exists' | 'mounted'

export interface PushEventMap {
  /** The files are listed and sized; nothing has moved yet. */
  plan: [plan: PushPlan]
  /** What the registry's manifests offer for reuse, read before any file moves. */
  discovered: [discovery: Discovery]
  /** The run this push records into (new or continued): the one `modelcar resume` takes up. */
  run: [runId: number]
  /** This push continues an unfinished run. */
  runResumed: [runId: number]
  /** Every file, in the order the workers take them, before the first starts. */
  fileQueued: [file: PlannedFile]
  fileStarted: [file: PlannedFile]
  /** Layer bytes read so far (they may go back when the registry kept less). */
  fileProgress: [file: PlannedFile, layerBytes: number]
  /** The upload session of an earlier process continues at this layer offset. */
  fileResumed: [file: PlannedFile, offset: number]
  /** The registry has the layer already (here, or mounted from another repository): nothing was uploaded. */
  fileSkipped: [file: PlannedFile, result: LayerResult, outcome: Exclude<FileOutcome, 'uploaded'>]
  fileDone: [file: PlannedFile, result: LayerResult]
  fileFailed: [file: PlannedFile, error: unknown]
  /** How a host is reached: `ORIGIN: direct`, or through which proxy (credentials hidden). */
  route: [message: string]
  /** A request or a layer is tried again. */
  retry: [message: string]
  /** The registry refused the upload mode; the push continues in `mode` and remembers it. */
  /** `refused`: the registry refused the previous mode; otherwise `mode` merely suits it better (a cut PATCH cancels its sessions). */
  uploadModeLearnt: [change: {registry: string; mode: UploadMode; why: string; refused: boolean}]
  phase: [message: string]
  /** Worth saying although the push goes on (a tag another push moved). */
  warning: [message: string]
  manifestPushed: [manifest: {digest: string; tags: string[]}]
}

export class PushEvents extends EventEmitter<PushEventMap> {}
