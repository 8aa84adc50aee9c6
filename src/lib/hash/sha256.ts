// SHA-256 for layers. The native hash (native/sha256_state.c, built at
// install) runs at node:crypto's speed and its state can be saved, so a
// checkpoint carries the hash and a resumed upload reads from the Hub only the
// bytes the registry holds beyond it. Without the addon (no compiler at
// install, or MODELCAR_SHA256=node) node:crypto is used and a resumed upload
// re-reads its whole prefix to rebuild the hash.
import {createHash, type Hash} from 'node:crypto'
import {createRequire} from 'node:module'

interface NativeSha256 {
  stateSize: number
  init(state: Buffer): void
  update(state: Buffer, data: Uint8Array): void
  /** update(a, data); update(b, data), in one interleaved pass where the CPU has SHA-NI. */
  updateBoth(a: Buffer, b: Buffer, data: Uint8Array): void
  digest(state: Buffer): Buffer
}

export interface Sha256 {
  update(data: Uint8Array): void
  /** Hex digest of the bytes so far (node:crypto: once only). */
  hex(): string
  /** The state after the bytes so far; undefined when it cannot be saved. */
  save(): Buffer | undefined
}

const native = loadNative()

/** Whether hash states can be saved (the native addon is loaded). */
export const saveableHashes = native !== undefined

/** A new hash, or one continued from `saved` (a `save()` of a saveable hash). */
export function createSha256(saved?: Buffer): Sha256 {
  if (!native) {
    if (saved) throw new Error('a saved SHA-256 state needs the native hash')
    return new NodeSha256()
  }
  return new SaveableSha256(native, saved)
}

/**
 * The same bytes into two hashes (a layer and its content): `a.update(data); b.update(data)`.
 * The native hash runs the two streams interleaved, faster than one after the other.
 */
export function updateBoth(a: Sha256, b: Sha256, data: Uint8Array): void {
  if (a instanceof SaveableSha256 && b instanceof SaveableSha256) a.lib.updateBoth(a.state, b.state, data)
  else {
    a.update(data)
    b.update(data)
  }
}

/** Bytes of one saved state (0 without the native hash). */
export const savedStateSize = native?.stateSize ?? 0

class SaveableSha256 implements Sha256 {
  /** OpenSSL's SHA256_CTX; read by updateBoth(). */
  readonly state: Buffer

  constructor(
    readonly lib: NativeSha256,
    saved?: Buffer,
  ) {
    this.state = Buffer.alloc(lib.stateSize)
    if (!saved) lib.init(this.state)
    else if (saved.length === lib.stateSize) saved.copy(this.state)
    else throw new Error(`a saved SHA-256 state has ${saved.length} bytes, not ${lib.stateSize}`)
  }

  update(data: Uint8Array): void {
    this.lib.update(this.state, data)
  }

  hex(): string {
    return this.lib.digest(this.state).toString('hex')
  }

  save(): Buffer {
    return Buffer.from(this.state)
  }
}

class NodeSha256 implements Sha256 {
  private readonly hash: Hash = createHash('sha256')

  update(data: Uint8Array): void {
    this.hash.update(data)
  }

  hex(): string {
    return this.hash.digest('hex')
  }

  save(): undefined {
    return undefined
  }
}

function loadNative(): NativeSha256 | undefined {
  if (process.env.MODELCAR_SHA256 === 'node') return undefined
  try {
    // dist/lib/hash (or src/lib/hash under tsx) → the package root's build/.
    const lib = createRequire(import.meta.url)('../../../build/Release/sha256_state.node') as Partial<NativeSha256>
    // An addon built before updateBoth existed (a checkout not rebuilt since) still hashes right, one stream at a time.
    lib.updateBoth ??= (a, b, data) => {
      lib.update!(a, data)
      lib.update!(b, data)
    }
    return lib as NativeSha256
  } catch {
    return undefined
  }
}
