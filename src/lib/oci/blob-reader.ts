// Read-only registry access for one repository, with pull scope only: HEAD a
// blob, GET a manifest, and stream a blob's bytes in bounded memory, all
// through the registry's transport (redirects to storage hosts follow its
// rules; credentials stay on the registry's origin). A stream cut mid-blob
// resumes with Range from the byte it reached.
import {ModelcarError} from '../errors.js'
import {BodyTooLargeError, readPrefix} from '../http/body.js'
import {header, TransportError, type RawResponse} from '../http/raw.js'
import {defaultRetryPolicy, isRetryable, RetryableError, withRetries, type RetryPolicy} from '../http/retry.js'
import type {RegistryClient} from './client.js'
import {shortDigest} from './digest.js'
import {MANIFEST_TYPES} from './types.js'

export interface BlobHead {
  status: 200 | 404
  size?: number
  digest?: string
}

export interface FetchedManifest {
  body: Buffer
  contentType: string
  /** Docker-Content-Digest, when the registry sent it. */
  digest?: string
}

/** The registry answered 404 for a blob. */
export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${shortDigest(digest)} is not in the registry (404)`)
    this.name = 'BlobNotFoundError'
  }
}

/**
 * The registry announced a length (Content-Length, or a Content-Range total)
 * and then sent less, again on every retry without a byte more: the blob it
 * stores is short, not the network flaky.
 */
export class ShortBlobError extends ModelcarError {
  constructor(
    readonly digest: string,
    readonly announced: number,
    readonly sent: number,
    readonly attempts: number,
  ) {
    const what = `GET ${shortDigest(digest)}`
    super(`${what}: the registry announced ${announced} bytes, sent ${sent} (on each of ${attempts} attempts)`, {code: 'E_BLOB_SHORT'})
    this.name = 'ShortBlobError'
  }
}

/** Reading an image: a registry repository (BlobReader) or an OCI image layout (LayoutReader in layout.ts). */
export interface ImageSource {
  head(digest: string): Promise<BlobHead>
  /** A manifest's exact bytes, or undefined when there is none under `reference`. */
  manifest(reference: string, maxBytes?: number): Promise<FetchedManifest | undefined>
  /** The blob's bytes in bounded memory; BlobNotFoundError when it is absent. */
  stream(digest: string, signal?: AbortSignal): AsyncGenerator<Buffer>
}

export class BlobReader implements ImageSource {
  readonly scopes: string[]
  private readonly policy: RetryPolicy

  constructor(
    readonly client: RegistryClient,
    private readonly opts: {
      retry?: RetryPolicy
      idleTimeoutMs?: number
      onRetry?: (what: string, error: unknown, attempt: number) => void
    } = {},
  ) {
    this.scopes = [`repository:${client.repository}:pull`]
    this.policy = opts.retry ?? defaultRetryPolicy
  }

  async head(digest: string): Promise<BlobHead> {
    const what = `HEAD ${shortDigest(digest)}`
    const res = await this.client.head(this.client.url(`blobs/${digest}`), {what, op: 'head-blob', accept: [200, 404], scopes: this.scopes})
    if (res.status === 404) return {status: 404}
    const length = res.header('content-length')
    return {status: 200, size: length === undefined ? undefined : Number(length), digest: res.header('docker-content-digest')}
  }

  /** A manifest's exact bytes, or undefined when the registry has none under `reference`. */
  async manifest(reference: string, maxBytes = 4 * 1024 * 1024): Promise<FetchedManifest | undefined> {
    const what = `GET manifest ${reference}`
    const res = await this.client.send('GET', this.client.url(`manifests/${reference}`), {
      what,
      op: 'get-manifest',
      accept: [200, 404],
      scopes: this.scopes,
      headers: {accept: MANIFEST_TYPES.join(', ')},
      keepBody: true,
    })
    if (res.status === 404) {
      await readPrefix(res).catch(() => undefined)
      return undefined
    }
    let body: Buffer
    try {
      body = await this.client.readBody(res, what, maxBytes)
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error
      throw new ModelcarError(`The manifest ${reference} is over the ${maxBytes}-byte limit for manifests.`, {code: 'E_MANIFEST_TOO_LARGE'})
    }
    return {
      body,
      contentType: (res.headers.get('content-type') ?? '').split(';')[0].trim(),
      digest: res.headers.get('docker-content-digest') ?? undefined,
    }
  }

  /**
   * The blob's bytes, chunk by chunk, with backpressure. Throws
   * BlobNotFoundError on 404; transient failures (also mid-stream) are
   * retried from the offset reached.
   */
  async *stream(digest: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let offset = 0
    /** The blob's length as the registry announced it (first answer). */
    let announced: number | undefined
    /** Attempts that ended before `announced`, and whether any retry brought a byte more. */
    let short = 0
    let progressed = false
    for (let failures = 0; ;) {
      const res = await withRetries(() => this.open(digest, offset, signal), {
        policy: {...this.policy, maxRetries: Math.max(0, this.policy.maxRetries - failures)},
        isRetryable,
        signal,
        onRetry: (error, n) => this.opts.onRetry?.(`GET ${shortDigest(digest)}`, error, n),
      })
      announced ??= announcedLength(res)
      const start = offset
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          offset += chunk.length
          yield chunk
        }
        if (announced === undefined || offset >= announced) return
        throw new RetryableError(`GET ${shortDigest(digest)}: the answer ended at byte ${offset} of ${announced}`)
      } catch (error) {
        // The connection broke mid-blob (reset, idle timeout) or ended short: go on from `offset`.
        if (announced !== undefined && offset < announced) short++
        if (short > 1 && offset > start) progressed = true
        if (signal?.aborted || ++failures > this.policy.maxRetries) {
          if (!signal?.aborted && announced !== undefined && short === failures && !progressed) {
            throw new ShortBlobError(digest, announced, offset, failures)
          }
          throw error instanceof TransportError
            ? error
            : new TransportError(`GET ${shortDigest(digest)}: ${(error as Error).message}`, this.client.endpoint.host, {cause: error})
        }
        this.opts.onRetry?.(`GET ${shortDigest(digest)}`, error, failures)
      } finally {
        // A consumer that stops early (break, throw) must not leave the socket open.
        if (!res.body.readableEnded) res.body.destroy()
      }
    }
  }

  /** GET from `offset`, following redirects; the body starts exactly at `offset`. */
  private async open(digest: string, offset: number, signal?: AbortSignal): Promise<RawResponse> {
    const headers: Record<string, string> = {'accept-encoding': 'identity', 'user-agent': 'modelcar'}
    if (offset > 0) headers.range = `bytes=${offset}-`
    const what = `GET ${shortDigest(digest)}`
    const {res} = await this.client.transport.open(this.client.url(`blobs/${digest}`), {
      what,
      op: 'get-blob',
      headers,
      scopes: this.scopes,
      signal,
      accept: [200, 206, 404],
    })
    if (res.status === 404) {
      res.body.resume()
      throw new BlobNotFoundError(digest)
    }
    if (res.status === 200) return offset > 0 ? skipBytes(res, offset) : res
    const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '')
    if (!m || Number(m[1]) !== offset) {
      res.body.resume()
      throw new RetryableError(`${what}: the registry answered a Range request from ${offset} with ${header(res.headers, 'content-range')}`)
    }
    return res
  }
}

/** The whole blob's length the answer announces: Content-Range's total on a 206, Content-Length on a 200. */
function announcedLength(res: RawResponse): number | undefined {
  const value =
    res.status === 206 ? /\/(\d+)$/.exec(header(res.headers, 'content-range') ?? '')?.[1] : header(res.headers, 'content-length')
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined
  return Number(value)
}

/** The server ignored Range: drop the first `n` bytes of its full answer. */
function skipBytes(res: RawResponse, n: number): RawResponse {
  const source = res.body
  let toSkip = n
  async function* rest(): AsyncGenerator<Buffer> {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (toSkip >= chunk.length) {
        toSkip -= chunk.length
        continue
      }
      yield toSkip > 0 ? chunk.subarray(toSkip) : chunk
      toSkip = 0
    }
  }
  const body = Object.assign(rest(), {
    destroy: () => source.destroy(),
    resume: () => source.resume(),
    get readableEnded() {
      return source.readableEnded
    },
  })
  return {...res, body: body as unknown as RawResponse['body']}
}
