// The resume checkpoint of one layer upload, in one place: where the
// registry's session is, how many bytes it acknowledged, and the layer and
// content hash states after exactly those bytes (when they can be saved).
// The transfer builds it, the run store keeps it as a row, a new process
// reads it back here, checked, or not at all.
import {saveableHashes, savedStateSize} from '../hash/sha256.js'

export interface LayerCheckpoint {
  location: URL
  /** Bytes the registry has acknowledged. */
  offset: number
  /** packHashStates() at or before `offset`, when the hashes can be saved. */
  hashState?: Buffer
}

export interface HashStates {
  /** Layer bytes hashed when the states were taken. */
  offset: number
  layer: Buffer
  content: Buffer
}

/** The columns of a run file that hold its checkpoint. */
export interface CheckpointRow {
  upload_location: string | null
  upload_offset: number | null
  hash_state: Buffer | null
}

/** Saved hash states: a format byte, the offset (u64), then the layer's and the content's states. */
const STATE_FORMAT = 1
const HEAD = 9

export function packHashStates(states: HashStates): Buffer {
  const head = Buffer.alloc(HEAD)
  head[0] = STATE_FORMAT
  head.writeBigUInt64BE(BigInt(states.offset), 1)
  return Buffer.concat([head, states.layer, states.content])
}

/** The states, or undefined when they come from another format or cannot be restored by this build. */
export function unpackHashStates(saved: Buffer): HashStates | undefined {
  if (!saveableHashes || saved.length !== HEAD + 2 * savedStateSize || saved[0] !== STATE_FORMAT) return undefined
  const layerEnd = HEAD + savedStateSize
  return {offset: Number(saved.readBigUInt64BE(1)), layer: saved.subarray(HEAD, layerEnd), content: saved.subarray(layerEnd)}
}

/** Where saved states were taken; undefined if they cannot be restored here. */
export function savedStateOffset(saved: Buffer): number | undefined {
  return unpackHashStates(saved)?.offset
}

/**
 * A saved row as a checkpoint, or undefined when it holds none or one that
 * cannot be used (a damaged database, a location that is not an http(s)
 * or file URL): the layer then starts over instead of failing.
 */
export function checkpointFromRow(row: CheckpointRow | undefined): LayerCheckpoint | undefined {
  const offset = row?.upload_offset
  if (!row?.upload_location || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined
  let location: URL
  try {
    location = new URL(row.upload_location)
  } catch {
    return undefined
  }
  // file: is a session of an OCI image layout (oci/layout.ts checks it is one of its own).
  if (location.protocol !== 'http:' && location.protocol !== 'https:' && location.protocol !== 'file:') return undefined
  const hashState = Buffer.isBuffer(row.hash_state) ? row.hash_state : undefined
  return {location, offset, ...(hashState ? {hashState} : {})}
}

export function checkpointToRow(cp: LayerCheckpoint): CheckpointRow {
  return {upload_location: cp.location.href, upload_offset: cp.offset, hash_state: cp.hashState ?? null}
}
