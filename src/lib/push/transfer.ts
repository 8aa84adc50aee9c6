// One file, one layer: Hub body → tar framing → SHA-256 (layer and content)
// → registry, streamed PATCH by PATCH. Nothing is buffered beyond the socket
// buffers, so memory does not grow with the file size, the chunk size or the
// number of files; bytes the registry did not keep are read again from the
// Hub (Range) rather than held in memory.
import {ModelcarError} from '../errors.js'
import type {HubClient} from '../hf/client.js'
import {RangeIgnoredError} from '../hf/client.js'
import {setTimeout as sleep} from 'node:timers/promises'
import {backoffDelay, defaultRetryPolicy, isRetryable, type RetryPolicy} from '../http/retry.js'
import {RegistryRefusedError} from '../oci/client.js'
import type {ImageTarget} from '../oci/target.js'
import {clampChunk, type UploadMode, type UploadModes} from '../oci/profiles.js'
import {BlobUpload, CutCancelsSessionError, heldBytes, ModeRefusedError, RestartLayerError, type UploadAck} from '../oci/upload.js'
import {savedStateOffset, type LayerCheckpoint} from '../state/checkpoint.js'
import {fixedChunks, measuredChunks} from './chunk-size.js'
import {graceSignal} from './grace.js'
import {LayerReader, RewoundPastStateError, type HubSource} from './layer-reader.js'
import type {PlannedFile} from './plan.js'
import type {SegmentShare} from './segments.js'

export interface TransferContext {
  hub: HubClient
  hfRepo: string
  sha: string
  registry: ImageTarget
  /** The upload mode in force for this registry; shared by the workers of a push. */
  modes: UploadModes
  /** Bytes per PATCH; undefined: sized from the measured rate (chunk-size.ts). */
  chunkSize?: number
  policy?: RetryPolicy
  signal?: AbortSignal
  /** The file's share of the push's Hub segments (SegmentShares.join). */
  segments?: SegmentShare
  /** Layer bytes read so far (for progress). */
  onProgress?: (layerBytes: number) => void
  onCheckpoint?: (cp: LayerCheckpoint) => void
  /** Every byte is hashed and checked: the digest, known before the commit is sent. */
  onHashed?: (result: LayerResult) => void
  /** The upload session was given up: forget its checkpoint. */
  onRestart?: () => void
  onRetry?: (why: string) => void
  /** A checkpointed session of an earlier process continues at this layer offset. */
  onResumed?: (offset: number) => void
  /** Continue this upload session (from a checkpoint of an earlier process). */
  resume?: LayerCheckpoint
  /** Bytes moved since the last call, for the run's accounting: at each checkpoint and when an attempt ends. */
  onTransferStats?: (stats: TransferStats) => void
}

export interface LayerResult {
  digest: string
  size: number
  contentSha256: string
}

export interface TransferStats {
  /** Bytes sent to the registry in PATCH bodies. */
  uploaded: number
  /** Bytes read from the Hub again: to rebuild a resumed hash, or to re-send. */
  reread: number
}

/** Restarts of a layer in a row that got no further than an earlier attempt; then the layer fails. */
const MAX_LAYER_RESTARTS = 3
/** Mode changes are not failures, but there are only so many modes. */
const MAX_MODE_CHANGES = 3

/** How far into the layer an attempt got: bytes the registry held or was sent. */
interface Attempt {
  reached: number
}

/**
 * One layer to the end, restarting it on a new session when one is lost.
 * The restart budget counts restarts without progress: on a lossy link each
 * attempt may meet a cut, and an attempt that got further than every earlier
 * one is not a reason to give up; a few in a row that did not are.
 */
export async function transferLayer(file: PlannedFile, ctx: TransferContext): Promise<LayerResult> {
  let resume = ctx.resume
  const policy = ctx.policy ?? defaultRetryPolicy
  const limit = Math.max(MAX_LAYER_RESTARTS, policy.maxRetries)
  let furthest = 0
  let stalls = 0
  let modeChanges = 0
  for (;;) {
    const mode = ctx.modes.mode
    const attempt: Attempt = {reached: 0}
    try {
      return await transferOnce(file, ctx, mode === 'chunked' ? resume : undefined, mode, attempt)
    } catch (error) {
      if (ctx.signal?.aborted) throw error
      const refused = error instanceof ModeRefusedError
      // Another worker may already have stepped the mode down.
      if (refused && !ctx.modes.stepDown(error))
        throw new ModelcarError(`${file.path}: the registry refused the ${mode} upload (${error.message}) and no other mode is left.`, {
          code: 'E_REGISTRY_REFUSED',
        })
      if (error instanceof CutCancelsSessionError) ctx.modes.prefer('stream', error.message)
      const restartable =
        refused || error instanceof RestartLayerError || error instanceof RewoundPastStateError || error instanceof RangeIgnoredError
      if (!restartable) throw error
      const modeChanged = ctx.modes.mode !== mode && ++modeChanges <= MAX_MODE_CHANGES
      const progressed = attempt.reached > furthest
      furthest = Math.max(furthest, attempt.reached)
      if (progressed || modeChanged) stalls = 0
      else if (++stalls > limit) throw error
      ctx.onRetry?.(
        modeChanged
          ? `${file.path}: ${(error as Error).message}; switching to ${ctx.modes.mode} uploads`
          : `restarting ${file.path} from byte 0: ${(error as Error).message}`,
      )
      ctx.onRestart?.()
      resume = undefined
      if (!modeChanged) await sleep(backoffDelay(stalls, policy), undefined, {signal: ctx.signal})
    }
  }
}

/**
 * Where to continue a checkpointed session: the registry's own count wins
 * (it may hold a chunk acknowledged after the checkpoint was written); less
 * than the checkpoint, or no session, means starting the layer over.
 */
async function reopen(file: PlannedFile, ctx: TransferContext, resume: LayerCheckpoint): Promise<{location: URL; offset: number}> {
  const held = await heldBytes(ctx.registry, resume.location, resume.offset, file.layerSize, 'the checkpoint and the layer').catch(
    async (error) => {
      // A session the layer will not continue: dropped, not left behind (a layout would keep its file).
      if (error instanceof RestartLayerError) await ctx.registry.cancelUpload(resume.location).catch(() => undefined)
      throw error
    },
  )
  ctx.onResumed?.(held.size)
  return {location: held.location, offset: held.size}
}

async function transferOnce(
  file: PlannedFile,
  ctx: TransferContext,
  resume: LayerCheckpoint | undefined,
  mode: UploadMode,
  attempt: Attempt,
): Promise<LayerResult> {
  if (mode === 'monolithic') return transferMonolithic(file, ctx, attempt)
  const policy = ctx.policy ?? defaultRetryPolicy
  const held = resume ? await reopen(file, ctx, resume) : undefined
  attempt.reached = held?.offset ?? 0
  // After an interrupt the PATCH in flight may land while the layer's bytes keep moving.
  const grace = graceSignal(ctx.signal, () => reader.position)
  const reader = new LayerReader(file, hubSource(ctx, policy, grace.signal), usableState(resume, held))
  // Bytes moved are reported with each checkpoint too, so a killed process's
  // transfers still count in the run's history.
  let upload: BlobUpload | undefined
  const reported: TransferStats = {uploaded: 0, reread: 0}
  const report = () => {
    // Catching up a resumed session reads what the registry held a second time.
    const now = {
      uploaded: upload?.bytesSent ?? 0,
      reread: reader.reread + reader.contentBytes(reader.restoredAt, Math.min(held?.offset ?? 0, reader.hashed)),
    }
    const delta = {uploaded: now.uploaded - reported.uploaded, reread: now.reread - reported.reread}
    Object.assign(reported, now)
    if (delta.uploaded > 0 || delta.reread > 0) ctx.onTransferStats?.(delta)
  }
  const onAck =
    mode === 'chunked' && ctx.onCheckpoint
      ? (ack: UploadAck) => {
          ctx.onCheckpoint!({...ack, hashState: reader.checkpoint(ack.offset)})
          report()
        }
      : undefined
  const opts = {policy, signal: ctx.signal, hardSignal: grace.signal, onAck}
  // A new session: the Hub's round trips to the first byte run while the registry opens the session.
  if (!held) reader.prefetch()
  upload = held
    ? BlobUpload.resume(ctx.registry, held.location, held.offset, opts)
    : await BlobUpload.open(ctx.registry, opts).catch((error) => {
        grace.dispose()
        reader.close()
        throw error
      })
  const progress = {
    seek: (position: number) => reader.seek(position),
    read: async (max: number) => {
      const piece = await reader.read(max)
      attempt.reached = Math.max(attempt.reached, reader.position)
      ctx.onProgress?.(reader.position)
      return piece
    },
    giveBack: (piece: Buffer) => reader.giveBack(piece),
  }
  try {
    if (held) {
      // Catch the hashes up to what the registry holds, once, and checkpoint
      // there: a kill before the next acknowledged PATCH must not re-read it.
      await reader.seek(held.offset)
      onAck?.({location: held.location, offset: held.offset})
    }
    if (mode === 'stream') await upload.stream(progress, file.layerSize)
    else {
      const sizer = ctx.chunkSize === undefined ? measuredChunks() : fixedChunks(ctx.chunkSize)
      const minChunk = upload.minChunk
      const chunks = {
        size: () => clampChunk(sizer.size(), ctx.modes.profile, minChunk),
        measured: (bytes: number, ms: number) => sizer.measured(bytes, ms),
      }
      await upload.upload(progress, file.layerSize, chunks)
    }
    return await commitLayer(file, ctx, reader, upload)
  } catch (error) {
    // An interrupted session keeps its checkpoint for the next run; any other
    // failure gives it up.
    if (!ctx.signal?.aborted) await upload.cancel()
    throw error
  } finally {
    grace.dispose()
    reader.close()
    report()
  }
}

/**
 * A resumed session continues the hashes from the saved state; the bytes the
 * registry holds beyond it (all it holds, without a state) are read again
 * from the Hub: a re-download, never a re-upload.
 */
function usableState(resume: LayerCheckpoint | undefined, held: {offset: number} | undefined): Buffer | undefined {
  if (!held || !resume?.hashState) return undefined
  const at = savedStateOffset(resume.hashState)
  return at !== undefined && at <= held.offset ? resume.hashState : undefined
}

/**
 * Hash every byte, check the content against the Hub's sha256, record the
 * digest, commit. A restored hash state that does not reproduce the file (a
 * state from another build, a damaged database) costs a restart of the
 * layer, never a wrong blob.
 */
async function commitLayer(file: PlannedFile, ctx: TransferContext, reader: LayerReader, upload: BlobUpload): Promise<LayerResult> {
  await reader.seek(file.layerSize) // all bytes hashed, even if the registry had them all
  const {digest, contentSha256, gitBlobId} = reader.digests()
  if (reader.restoredAt > 0 && file.lfsSha256 && contentSha256 !== file.lfsSha256) {
    throw new RestartLayerError(`${file.path}: the saved hash state did not reproduce the file's sha256`)
  }
  checkContent(file, contentSha256, gitBlobId)
  const result = {digest, size: file.layerSize, contentSha256}
  ctx.onHashed?.(result)
  await upload.commit(digest, file.layerSize).catch((error) => {
    const wrongDigest = error instanceof RegistryRefusedError && error.errorCode === 'DIGEST_INVALID'
    throw wrongDigest && reader.restoredAt > 0
      ? new RestartLayerError(`${file.path}: the registry computed another digest than the saved hash state gave`)
      : error
  })
  return result
}

/**
 * Monolithic: the digest goes in the PUT's URL, so it must be known before the
 * body is sent. Read the layer once to hash it, then again into the PUT: two
 * downloads, no disk, no buffer.
 */
async function transferMonolithic(file: PlannedFile, ctx: TransferContext, attempt: Attempt): Promise<LayerResult> {
  const policy = ctx.policy ?? defaultRetryPolicy
  const grace = graceSignal(ctx.signal, () => reader.position)
  const reader = new LayerReader(file, hubSource(ctx, policy, grace.signal))
  let sent = 0
  try {
    await reader.seek(file.layerSize)
    const {digest, contentSha256, gitBlobId} = reader.digests()
    checkContent(file, contentSha256, gitBlobId)
    const {location} = await ctx.registry.startUpload()
    await reader.seek(0)
    try {
      await ctx.registry.putStream(
        location,
        digest,
        file.layerSize,
        async (max) => {
          const piece = await reader.read(max)
          sent += piece.length
          attempt.reached = reader.position
          ctx.onProgress?.(reader.position)
          return piece
        },
        grace.signal,
      )
    } catch (error) {
      await ctx.registry.cancelUpload(location).catch(() => undefined)
      const status = (error as {status?: number}).status
      if (status === 405 || status === 413)
        throw new ModelcarError(`${file.path}: the registry refused a monolithic upload of ${file.layerSize} bytes (${status}).`, {
          code: 'E_REGISTRY_REFUSED',
        })
      if (isRetryable(error)) throw new RestartLayerError(`monolithic PUT failed: ${(error as Error).message}`)
      throw error
    }
    return {digest, size: file.layerSize, contentSha256}
  } finally {
    grace.dispose()
    reader.close()
    ctx.onTransferStats?.({uploaded: sent, reread: reader.reread})
  }
}

/** Every file is proven against the listing: LFS files by their sha256, the others by their git blob id. */
function checkContent(file: PlannedFile, contentSha256: string, gitBlobId: string | undefined): void {
  if (file.lfsSha256 && contentSha256 !== file.lfsSha256) {
    throw new ModelcarError(
      `${file.path}: content sha256 ${contentSha256} does not match the Hub's LFS sha256 ${file.lfsSha256}; the file was not pushed.`,
      {code: 'E_CONTENT_MISMATCH'},
    )
  }
  if (gitBlobId !== undefined && gitBlobId !== file.oid) {
    throw new ModelcarError(
      `${file.path}: git blob id ${gitBlobId} does not match the Hub's listing (${file.oid}); the file was not pushed.`,
      {code: 'E_CONTENT_MISMATCH'},
    )
  }
}

/** Where a layer's content comes from: the Hub, with the push's retry policy and segment shares. */
function hubSource(ctx: TransferContext, policy: RetryPolicy, signal: AbortSignal): HubSource {
  const {hub, hfRepo, sha, onRetry, segments} = ctx
  return {hub, hfRepo, sha, policy, signal, onRetry, segments}
}
