// Reading small answers (JSON, manifests, tokens, error documents) with a cap
// enforced on the bytes actually read, not on what Content-Length claims: a
// hostile server may omit it, or send more than it says.
import type {Readable} from 'node:stream'
import {ModelcarError} from '../errors.js'

/** An answer body over its limit: the request is abandoned, nothing is kept. */
export class BodyTooLargeError extends ModelcarError {
  constructor(what: string, peer: string, limit: number) {
    super(`${what}: ${peer} sent more than ${limit} bytes, over the limit for this answer; refusing it.`, {code: 'E_BODY_TOO_LARGE'})
    this.name = 'BodyTooLargeError'
  }
}

export const LIMITS = {
  /** JSON answers: Hub revision info, token documents. */
  json: 4 << 20,
  /** One page of the Hub's tree listing (a real page of 1,000 entries is ~300 KB). */
  listingPage: 16 << 20,
  /** Manifests and image configs: the distribution spec's own limit for manifests. */
  manifest: 4 << 20,
  /** Error documents: only their first words are ever shown. */
  error: 64 << 10,
} as const

/** The whole body of a fetch answer, refused past `limit` bytes. */
export async function readCapped(res: Response, limit: number, what: string, peer: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined)
    throw new BodyTooLargeError(what, peer, limit)
  }
  if (!res.body) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let size = 0
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>
  for (;;) {
    const {done, value} = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => undefined)
      throw new BodyTooLargeError(what, peer, limit)
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(chunks, size)
}

/** The start of a body as text (an error document): reading stops at `limit`, the rest is dropped. */
export async function readPrefix(res: Response | Readable, limit = LIMITS.error): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  const source = res instanceof Response ? res.body : res
  if (!source) return ''
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(chunk).subarray(0, limit - size))
      size += chunk.byteLength
      if (size >= limit) break
    }
  } finally {
    if (!(res instanceof Response)) res.destroy()
  }
  return Buffer.concat(chunks).toString('utf8')
}
