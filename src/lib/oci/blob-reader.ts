// Read-only registry access for one repository, with pull scope only: HEAD a
// blob, GET a manifest, and stream a blob's bytes in bounded memory. Blob
// bytes go through node:http (see http/raw.ts); redirects (S3, CDNs) are
// followed by hand and Authorization goes only to the registry's origin. A
// stream cut mid-blob resumes with Range from the byte it reached.
import {ModelcarError} from '../errors.js'
import {header, rawRequest, TransportError, type RawResponse} from '../http/raw.js'
import {defaultRetryPolicy, RetryableError, withRetries, type RetryPolicy} from '../http/retry.js'
import {isRetryableError, short, type RegistryClient} from './client.js'

const MAX_REDIRECTS = 5

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]

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
    super(`blob ${short(digest)} is not in the registry (404)`)
    this.name = 'BlobNotFoundError'
  }
}

export class BlobReader {
  readonly scopes: string[]
  private readonly policy: RetryPolicy

  constructor(
    readonly client: RegistryClient,
    private readonly opts: {retry?: RetryPolicy; idleTimeoutMs?: number; onRetry?: (what: string, error: unknown, attempt: number) => void} = {},
  ) {
    this.scopes = [`repository:${client.repository}:pull`]
    this.policy = opts.retry ?? defaultRetryPolicy
  }

  async head(digest: string): Promise<BlobHead> {
    const res = await this.client.send('HEAD', this.client.url(`blobs/${digest}`), {what: `HEAD ${short(digest)}`, accept: [200, 404], scopes: this.scopes})
    await res.body?.cancel().catch(() => undefined)
    if (res.status === 404) return {status: 404}
    const length = res.headers.get('content-length')
    return {status: 200, size: length === null ? undefined : Number(length), digest: res.headers.get('docker-content-digest') ?? undefined}
  }

  /** A manifest's exact bytes, or undefined when the registry has none under `reference`. */
  async manifest(reference: string, maxBytes = 4 * 1024 * 1024): Promise<FetchedManifest | undefined> {
    const res = await this.client.send('GET', this.client.url(`manifests/${reference}`), {
      what: `GET manifest ${reference}`, accept: [200, 404], scopes: this.scopes, headers: {accept: MANIFEST_ACCEPT.join(', ')},
    })
    if (res.status === 404) {
      await res.body?.cancel().catch(() => undefined)
      return undefined
    }
    const declared = Number(res.headers.get('content-length'))
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined)
      throw new ModelcarError(`The manifest ${reference} is ${declared} bytes, over the ${maxBytes}-byte limit for manifests.`, {code: 'E_MANIFEST_TOO_LARGE'})
    }
    const body = Buffer.from(await res.arrayBuffer())
    return {body, contentType: (res.headers.get('content-type') ?? '').split(';')[0].trim(), digest: res.headers.get('docker-content-digest') ?? undefined}
  }

  /**
   * The blob's bytes, chunk by chunk, with backpressure. Throws
   * BlobNotFoundError on 404; transient failures (also mid-stream) are
   * retried from the offset reached.
   */
  async *stream(digest: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let offset = 0
    for (let failures = 0; ; ) {
      const res = await withRetries(() => this.open(digest, offset, signal), {
        policy: {...this.policy, maxRetries: Math.max(0, this.policy.maxRetries - failures)},
        isRetryable: isRetryableError,
        signal,
        onRetry: (error, n) => this.opts.onRetry?.(`GET ${short(digest)}`, error, n),
      })
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          offset += chunk.length
          yield chunk
        }
        return
      } catch (error) {
        // The connection broke mid-blob (reset, idle timeout): go on from `offset`.
        if (signal?.aborted || ++failures > this.policy.maxRetries) {
          throw error instanceof TransportError ? error : new TransportError(`GET ${short(digest)}: ${(error as Error).message}`, this.client.endpoint.host, {cause: error})
        }
        this.opts.onRetry?.(`GET ${short(digest)}`, error, failures)
      } finally {
        // A consumer that stops early (break, throw) must not leave the socket open.
        if (!res.body.readableEnded) res.body.destroy()
      }
    }
  }

  /** GET from `offset`, following redirects; the body starts exactly at `offset`. */
  private async open(digest: string, offset: number, signal?: AbortSignal): Promise<RawResponse> {
    const origin = new URL(this.client.endpoint.baseUrl).origin
    let url = this.client.url(`blobs/${digest}`)
    let authRetried = false
    for (let hop = 0; hop <= MAX_REDIRECTS; ) {
      const headers: Record<string, string> = {'accept-encoding': 'identity', 'user-agent': 'modelcar'}
      if (url.origin === origin) {
        const authorization = await this.client.auth.authorization(url, this.scopes)
        if (authorization) headers.authorization = authorization
      }
      if (offset > 0) headers.range = `bytes=${offset}-`
      const res = await rawRequest(url, {method: 'GET', headers, signal, idleTimeoutMs: this.opts.idleTimeoutMs ?? 60_000})
      if (res.status === 401 && url.origin === origin && !authRetried) {
        res.body.resume()
        authRetried = true
        this.client.auth.onUnauthorized(header(res.headers, 'www-authenticate'), this.scopes)
        continue
      }
      if (res.status === 401 || res.status === 403) {
        res.body.resume()
        if (url.origin === origin) throw this.client.auth.refused(res.status)
        throw new ModelcarError(`GET ${short(digest)}: the storage at ${url.host} the registry redirected to answered HTTP ${res.status}.`, {code: 'E_REGISTRY_REFUSED'})
      }
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        res.body.resume()
        const location = header(res.headers, 'location')
        if (!location) throw new ModelcarError(`GET ${short(digest)}: the registry redirected without a Location.`, {code: 'E_REGISTRY_PROTOCOL'})
        const next = new URL(location, url)
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          throw new ModelcarError(`GET ${short(digest)}: redirected from HTTPS to plain HTTP (${next.host}); refusing.`, {code: 'E_REGISTRY_PROTOCOL'})
        }
        url = next
        hop++
        continue
      }
      if (res.status === 404) {
        res.body.resume()
        throw new BlobNotFoundError(digest)
      }
      if (res.status === 200) return offset > 0 ? skipBytes(res, offset) : res
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '')
        if (!m || Number(m[1]) !== offset) {
          res.body.resume()
          throw new RetryableError(`GET ${short(digest)}: the registry answered a Range request from ${offset} with ${header(res.headers, 'content-range')}`)
        }
        return res
      }
      throw await this.client.failure(`GET ${short(digest)}`, res)
    }
    throw new ModelcarError(`GET ${short(digest)}: too many redirects.`, {code: 'E_REGISTRY_PROTOCOL'})
  }
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
