// One registry repository over the OCI distribution API. Control-plane calls
// (ping, HEAD, POST, PUT, manifests) go through ky; chunk bytes go through
// node:http (see http/raw.ts). Every call handles the auth challenge once and
// retries transient failures with one shared policy.
import ky from 'ky'
import {ModelcarError, UsageError} from '../errors.js'
import {header, readText, streamingRequest, TransportError, type RawResponse} from '../http/raw.js'
import {defaultRetryPolicy, isTransientStatus, parseRetryAfter, RetryableError, type RetryPolicy, withRetries} from '../http/retry.js'
import type {RegistryAuth} from './auth.js'
import type {RegistryEndpoint} from './reference.js'

export interface ClientOptions {
  retry?: RetryPolicy
  idleTimeoutMs?: number
  onRetry?: (what: string, error: unknown, attempt: number) => void
}

export interface UploadStatus {
  location: URL
  /** Bytes the registry holds, or undefined when it did not say. */
  size: number | undefined
}

const MAX_REDIRECTS = 5
/** Every final status but 401 (send() answers it with credentials) and the transient ones (send() retries them). */
const ANY_ANSWER = Array.from({length: 400}, (_, i) => 200 + i).filter((s) => s !== 401 && !(s >= 300 && s < 400) && !isTransientStatus(s))

/** The registry said this upload session no longer exists. */
export class UploadGoneError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UploadGoneError'
  }
}

/** The registry refused a request in a way that retrying will not fix. */
export class RegistryRefusedError extends ModelcarError {
  constructor(message: string, readonly status: number, readonly errorCode?: string) {
    super(message, {code: 'E_REGISTRY_REFUSED'})
  }
}

export function isRetryableError(error: unknown): boolean {
  return error instanceof TransportError || error instanceof RetryableError
}

export class RegistryClient {
  readonly scopes: string[]
  private readonly base: URL

  constructor(
    readonly endpoint: RegistryEndpoint,
    readonly repository: string,
    readonly auth: RegistryAuth,
    private readonly opts: ClientOptions = {},
  ) {
    this.scopes = [`repository:${repository}:pull,push`]
    this.base = new URL(endpoint.baseUrl)
  }

  url(path: string): URL {
    return new URL(`/v2/${this.repository}/${path}`, this.base)
  }

  /** GET /v2/: proves this is a registry and learns its auth challenge. */
  async ping(): Promise<void> {
    // Any answer is information here: only a registry says 200 (or 401, handled by send) to /v2/.
    const res = await this.send('GET', new URL('/v2/', this.base), {what: 'registry check', accept: ANY_ANSWER})
    await res.body?.cancel()
    const apiVersion = res.headers.get('docker-distribution-api-version')
    if (!res.ok && !apiVersion) {
      throw new ModelcarError(`${this.endpoint.host} does not look like an OCI registry (GET /v2/ answered HTTP ${res.status}): check --registry.`, {code: 'E_NOT_A_REGISTRY'})
    }
  }

  /** Size of a blob in this repository, or undefined when it is absent. */
  async headBlob(digest: string): Promise<{size: number; digest: string | undefined} | undefined> {
    const res = await this.send('HEAD', this.url(`blobs/${digest}`), {what: `HEAD ${short(digest)}`, accept: [200, 404]})
    if (res.status === 404) return undefined
    return {size: Number(res.headers.get('content-length')), digest: res.headers.get('docker-content-digest') ?? undefined}
  }

  /** Ask the registry to link a blob from another repository; true when it did. */
  async mountBlob(digest: string, fromRepository: string): Promise<boolean> {
    const url = this.url('blobs/uploads/')
    url.searchParams.set('mount', digest)
    url.searchParams.set('from', fromRepository)
    const scopes = [...this.scopes, `repository:${fromRepository}:pull`]
    const res = await this.send('POST', url, {what: `mount ${short(digest)}`, scopes, accept: [201, 202]})
    if (res.status === 202) {
      // The registry opened an upload instead: close it, we will upload ourselves.
      const location = this.location(res)
      await this.cancelUpload(location).catch(() => undefined)
      return false
    }
    return true
  }

  /** POST a new upload session; returns its Location and the registry's minimum chunk, if it says. */
  async startUpload(): Promise<{location: URL; minChunk?: number}> {
    const res = await this.send('POST', this.url('blobs/uploads/'), {what: 'start upload', accept: [202]})
    const min = Number(res.headers.get('oci-chunk-min-length'))
    return {location: this.location(res), ...(Number.isSafeInteger(min) && min > 0 ? {minChunk: min} : {})}
  }

  /** GET the upload session: where does the registry think it is? */
  async uploadStatus(location: URL): Promise<UploadStatus> {
    const res = await this.send('GET', location, {what: 'upload status', accept: [204, 200, 404]})
    if (res.status === 404) {
      await res.body?.cancel()
      throw new UploadGoneError('the registry no longer accepts this upload session (404)')
    }
    return {location: this.location(res, location), size: parseRangeEnd(res.headers.get('range'))}
  }

  /**
   * PATCH the layer bytes [start, start + length), pulled from `pull` as they
   * arrive and streamed with backpressure. Returns the next Location. Any
   * failure leaves the session in an unknown state: the caller resyncs.
   */
  async patchStream(location: URL, start: number, length: number, pull: (max: number) => Promise<Buffer>, opts: {signal?: AbortSignal; contentRange?: boolean} = {}): Promise<URL> {
    const headers: Record<string, string> = {'content-type': 'application/octet-stream'}
    // Stream mode sends the whole layer in one PATCH without Content-Range.
    if (opts.contentRange !== false) headers['content-range'] = `${start}-${start + length - 1}`
    const res = await this.streamBody('PATCH', location, headers, length, pull, opts.signal)
    return this.location(res, location)
  }

  /** Monolithic upload: the whole layer in the PUT that closes the session. */
  async putStream(location: URL, digest: string, length: number, pull: (max: number) => Promise<Buffer>, signal?: AbortSignal): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    await this.streamBody('PUT', url, {'content-type': 'application/octet-stream'}, length, pull, signal)
    await this.checkBlob(digest, length)
  }

  private async streamBody(method: string, location: URL, headers: Record<string, string>, length: number, pull: (max: number) => Promise<Buffer>, signal?: AbortSignal): Promise<RawResponse> {
    const authorization = await this.auth.authorization(location, this.scopes)
    if (authorization) headers.authorization = authorization
    const what = method === 'PUT' ? 'PUT blob' : 'PATCH chunk'
    const req = streamingRequest(location, {method, headers, contentLength: length, signal, idleTimeoutMs: this.opts.idleTimeoutMs})
    let sent = 0
    try {
      while (sent < length && !req.answered) {
        const piece = await pull(length - sent)
        await req.write(piece)
        sent += piece.length
      }
    } catch (error) {
      req.destroy()
      throw error
    }
    const res = await req.finish()
    const ok = res.status === 202 || res.status === 201 || res.status === 204 || res.status === 200
    if (ok && sent < length) {
      res.body.resume()
      throw new RetryableError(`${what}: the registry answered ${res.status} after ${sent} of ${length} bytes`)
    }
    if (ok) {
      res.body.resume()
      return res
    }
    throw await this.failure(what, res)
  }

  /** A small blob (the config) in one POST + PUT. */
  async pushBlob(bytes: Buffer, digest: string): Promise<void> {
    const {location} = await this.startUpload()
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    await this.send('PUT', url, {what: `PUT blob ${short(digest)}`, accept: [201, 204], body: new Uint8Array(bytes), headers: {'content-type': 'application/octet-stream'}})
    await this.checkBlob(digest, bytes.length)
  }

  /**
   * PUT ?digest= to close the session, then HEAD the blob to check it landed
   * whole. A PUT that failed may still have committed (GHCR answers a retried
   * commit with BLOB_UPLOAD_UNKNOWN; ACR with a stray 416): HEAD the digest
   * before concluding anything, and retry only when it is not there.
   */
  async commitUpload(location: URL, digest: string, size: number): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    await withRetries(async () => {
      try {
        await this.send('PUT', url, {what: `commit ${short(digest)}`, accept: [201, 204], body: new Uint8Array(0), headers: {'content-type': 'application/octet-stream'}, retries: false})
      } catch (error) {
        const existing = await this.headBlob(digest).catch(() => undefined)
        if (existing && existing.size === size) return
        if (error instanceof UploadGoneError || (error instanceof RegistryRefusedError && error.status === 416)) throw new RetryableError((error as Error).message)
        throw error
      }
    }, {policy: this.opts.retry, isRetryable: isRetryableError, onRetry: (error, n) => this.opts.onRetry?.(`commit ${short(digest)}`, error, n)})
    await this.checkBlob(digest, size)
  }

  async checkBlob(digest: string, size: number): Promise<void> {
    const found = await this.headBlob(digest)
    if (!found) throw new ModelcarError(`The registry accepted blob ${short(digest)} but HEAD does not find it.`, {code: 'E_REGISTRY_BLOB'})
    if (found.digest && found.digest !== digest) throw new ModelcarError(`The registry stored blob ${short(digest)} under digest ${found.digest}.`, {code: 'E_REGISTRY_BLOB'})
    if (found.size !== size) throw new ModelcarError(`The registry stored blob ${short(digest)} with ${found.size} bytes instead of ${size}.`, {code: 'E_REGISTRY_BLOB'})
  }

  async cancelUpload(location: URL): Promise<void> {
    await this.send('DELETE', location, {what: 'cancel upload', accept: [204, 200, 202, 404, 405], retries: false})
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.send('PUT', this.url(`manifests/${reference}`), {what: `PUT manifest ${reference}`, accept: [201, 200, 202], body: new Uint8Array(body), headers: {'content-type': mediaType}})
    return res.headers.get('docker-content-digest') ?? undefined
  }

  /** GET a manifest: its bytes and media type, or undefined when absent. */
  async getManifest(reference: string, accept: string[]): Promise<{body: Buffer; mediaType: string; digest?: string} | undefined> {
    const res = await this.send('GET', this.url(`manifests/${reference}`), {what: `GET manifest ${reference}`, accept: [200, 404], headers: {accept: accept.join(', ')}})
    if (res.status === 404) return undefined
    return {body: Buffer.from(await res.arrayBuffer()), mediaType: res.headers.get('content-type') ?? '', digest: res.headers.get('docker-content-digest') ?? undefined}
  }

  /**
   * One control-plane request: auth challenge answered once, redirects
   * followed by hand (no auth to other origins, no HTTPS→HTTP), transient
   * failures retried. Statuses outside `accept` become errors.
   */
  async send(method: string, url: URL, o: {
    what: string; accept?: number[]; body?: Uint8Array; headers?: Record<string, string>; scopes?: string[]; retries?: boolean
  }): Promise<Response> {
    const accept = o.accept ?? [200]
    const scopes = o.scopes ?? this.scopes
    const policy = o.retries === false ? {...(this.opts.retry ?? defaultRetryPolicy), maxRetries: 0} : this.opts.retry
    return withRetries(async () => {
      let target = url
      let authRetried = false
      for (let hop = 0; hop <= MAX_REDIRECTS;) {
        const headers: Record<string, string> = {...o.headers}
        const authorization = await this.auth.authorization(target, scopes)
        if (authorization) headers.authorization = authorization
        let res: Response
        try {
          res = await ky(target, {method, headers, body: o.body, throwHttpErrors: false, retry: 0, redirect: 'manual', timeout: this.opts.idleTimeoutMs ?? 60_000})
        } catch (error) {
          const cause = (error as {cause?: NodeJS.ErrnoException}).cause
          const why = cause?.code ? networkWords(cause.code) : cause?.message ?? (error as Error).message
          throw new TransportError(`${o.what}: ${why} (${target.host})`, target.host, {cause: error})
        }
        if (res.status === 401 && !authRetried && target.origin === this.base.origin) {
          await res.body?.cancel()
          authRetried = true
          this.auth.onUnauthorized(res.headers.get('www-authenticate'), scopes)
          continue
        }
        if (res.status === 401 || (res.status === 403 && authRetried)) {
          await res.body?.cancel()
          throw this.auth.refused(res.status)
        }
        if ([301, 302, 303, 307, 308].includes(res.status) && !accept.includes(res.status)) {
          await res.body?.cancel()
          const location = res.headers.get('location')
          if (!location) throw new ModelcarError(`${o.what}: the registry redirected without a Location.`, {code: 'E_REGISTRY_PROTOCOL'})
          const next = new URL(location, target)
          if (target.protocol === 'https:' && next.protocol !== 'https:') {
            throw new ModelcarError(`${o.what}: the registry redirected from HTTPS to plain HTTP (${next.host}); refusing.`, {code: 'E_REGISTRY_PROTOCOL'})
          }
          target = next
          hop++
          continue
        }
        if (accept.includes(res.status)) return res
        const body = method === 'HEAD' ? '' : await res.text().catch(() => '')
        throw describeFailure(o.what, res.status, body, res.headers.get('retry-after'))
      }
      throw new ModelcarError(`${o.what}: too many redirects.`, {code: 'E_REGISTRY_PROTOCOL'})
    }, {
      policy,
      isRetryable: isRetryableError,
      onRetry: (error, n) => this.opts.onRetry?.(o.what, error, n),
    })
  }

  /** Turn a raw (data path) error answer into an error, handling 401. */
  async failure(what: string, res: RawResponse): Promise<Error> {
    const body = await readText(res).catch(() => '')
    if (res.status === 401) {
      this.auth.onUnauthorized(header(res.headers, 'www-authenticate'), this.scopes)
      return new RetryableError(`${what}: token expired or refused (401)`)
    }
    return describeFailure(what, res.status, body, header(res.headers, 'retry-after'))
  }

  private location(res: {headers: Headers} | RawResponse, fallback?: URL): URL {
    const value = res.headers instanceof Headers ? res.headers.get('location') : header(res.headers, 'location')
    if (!value) {
      if (fallback) return fallback
      throw new ModelcarError(`The registry ${this.endpoint.host} opened an upload without a Location header.`, {code: 'E_REGISTRY_PROTOCOL'})
    }
    const url = new URL(value, this.base)
    if (this.base.protocol === 'https:' && url.protocol !== 'https:') {
      throw new ModelcarError(`The registry ${this.endpoint.host} sent an upload Location on plain HTTP; refusing.`, {code: 'E_REGISTRY_PROTOCOL'})
    }
    return url
  }
}

/** `Range: 0-N` → N+1 bytes held. distribution writes 0-0 for an empty session. */
export function parseRangeEnd(range: string | null | undefined): number | undefined {
  if (!range) return undefined
  const m = /^(?:bytes[ =])?0-(\d{1,16})$/.exec(range.trim())
  if (!m) return undefined
  const end = Number(m[1])
  if (!Number.isSafeInteger(end + 1)) return undefined
  return end === 0 ? 0 : end + 1
}

function describeFailure(what: string, status: number, body: string, retryAfter: string | null | undefined): Error {
  let code: string | undefined
  let message = ''
  try {
    const parsed = JSON.parse(body) as {errors?: Array<{code?: string; message?: string}>}
    code = parsed.errors?.[0]?.code
    message = parsed.errors?.[0]?.message ?? ''
  } catch {
    // not an OCI error document
  }
  const detail = `${what}: registry answered HTTP ${status}${code ? ` ${code}` : ''}${message ? ` (${message.slice(0, 200)})` : ''}`
  if (isTransientStatus(status)) return new RetryableError(detail, parseRetryAfter(retryAfter), {status})
  if (status === 404 && /upload/i.test(what) === false && code === 'NAME_UNKNOWN') {
    return new UsageError(`${detail}: check --target-repo.`, 'E_REGISTRY_REFUSED')
  }
  // distribution signs the offset into the upload Location: after a PATCH
  // whose bytes it partly kept, the old Location answers BLOB_UPLOAD_INVALID.
  if (code === 'BLOB_UPLOAD_UNKNOWN' || (status === 404 && (code === 'BLOB_UPLOAD_INVALID' || /PATCH|upload status/.test(what)))) return new UploadGoneError(detail)
  return new RegistryRefusedError(detail, status, code)
}

function networkWords(code: string): string {
  return ({ECONNREFUSED: 'connection refused', ENOTFOUND: 'unknown host', EAI_AGAIN: 'unknown host', ECONNRESET: 'connection reset', ETIMEDOUT: 'timed out', UND_ERR_SOCKET: 'connection closed'} as Record<string, string>)[code] ?? code
}

export function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12)
}
