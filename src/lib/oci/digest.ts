// Content digests: the grammar, computing one over bytes, and the short form
// people read in tables and messages.
import {createHash} from 'node:crypto'

/** sha256:<64 lowercase hex> or sha512:<128 lowercase hex>. */
export const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/

/** `sha256:<hex>` (or sha512 when asked) of the exact bytes. */
export function digestOf(bytes: Buffer | string, algorithm: string = 'sha256'): string {
  const alg = algorithm === 'sha512' ? 'sha512' : 'sha256'
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`
}

/** The first 12 hex digits, without the algorithm: what docker prints. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha(256|512):/, '').slice(0, 12)
}
