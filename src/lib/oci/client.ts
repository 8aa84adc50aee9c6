// One registry repository over the OCI distribution API. Every request goes
// through the registry's Transport (http/transport.ts): control-plane calls
// (ping, HEAD, POST, PUT, manifests) with small bodies, chunk bytes streamed
// through node:http. This file knows the protocol; the transport knows the
// rules of the wire (credentials, redirects, retries, timeouts).
import {ModelcarError, UsageError} from '../errors.js'
import {LIMITS, readCapped, readPrefix} from '../http/body.js'
import {header, type RawResponse} from '../http/raw.js'
import {isTransientStatus, parseRetryAfter, RetryableError} from '../http/retry.js'
import {Transport, type FailedAnswer, type RequestOptions, type TransportSettings} from '../http/transport.js'
import type {Peer} from '../http/connect-errors.js'
import type {RegistryAuth} from './auth.js'
import {shortDigest} from './digest.js'
import {MANIFEST_TYPES} from './types.js'
import type {RegistryEndpoint} from './reference.js'
import type {ImageTarget, UploadStatus} from './target.js'

const REGISTRY_PEER: Peer = {
  name: 'the registry',
  hint: 'check --registry and the network',
  refusedFix: 'is the registry running and the port right?',
  plainHttpFix: (host) => `use --registry http://${host}`,
  certsDir: (host) => `/etc/containers/certs.d/${host}/`,
  insecureFlag: '--tls-verify=false',
}

export type {UploadStatus} from './target.js'

/** What a registry request does: errors are classified by it, the status and the OCI error code. */
export type RegistryOp =
  | 'ping'
  | 'head-blob'
  | 'mount'
  | 'start-upload'
  | 'upload-status'
  | 'patch'
  | 'put-blob'
  | 'commit'
  | 'cancel-upload'
  | 'put-manifest'
  | 'get-manifest'
  | 'get-blob'
  | 'list-tags'

/** Every final status but 401 (the transport answers it with credentials) and the transient ones (retried). */
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
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode?: string,
  ) {
    super(message, {code: 'E_REGISTRY_REFUSED'})
  }
}

export class RegistryClient implements ImageTarget {
  readonly scopes: string[]
  readonly transport: Transport
  private readonly base: URL

  constructor(
    readonly endpoint: RegistryEndpoint,
    readonly repository: string,
    readonly auth: RegistryAuth,
    opts: TransportSettings = {},
  ) {
    this.scopes = [`repository:${repository}:pull,push`]
    this.base = new URL(endpoint.baseUrl)
    this.transport = new Transport({...opts, origin: endpoint.baseUrl, peer: REGISTRY_PEER, auth, classify: describeFailure})
  }

  url(path: string): URL {
    return new URL(`/v2/${this.repository}/${path}`, this.base)
  }

  /** GET /v2/: proves this is a registry and learns its auth challenge. */
  async ping(): Promise<void> {
    // Any answer is information here: only a registry says 200 (or 401, handled by the transport) to /v2/.
    const res = await this.send('GET', new URL('/v2/', this.base), {what: 'registry check', op: 'ping', accept: ANY_ANSWER})
    const apiVersion = res.headers.get('docker-distribution-api-version')
    if (!res.ok && !apiVersion) {
      throw new ModelcarError(
        `${this.endpoint.host} does not look like an OCI registry (GET /v2/ answered HTTP ${res.status}): check --registry.`,
        {code: 'E_NOT_A_REGISTRY'},
      )
    }
  }

  /** Size of a blob in this repository, or undefined when it is absent. */
  async headBlob(digest: string, scopes: readonly string[] = this.scopes): Promise<{size: number; digest: string | undefined} | undefined> {
    const res = await this.head(this.url(`blobs/${digest}`), {
      what: `HEAD ${shortDigest(digest)}`,
      op: 'head-blob',
      accept: [200, 404],
      scopes,
    })
    if (res.status === 404) return undefined
    return {size: Number(res.header('content-length')), digest: res.header('docker-content-digest')}
  }

  /** Ask the registry to link a blob from another repository; true when it did. */
  async mountBlob(digest: string, fromRepository: string): Promise<boolean> {
    const url = this.url('blobs/uploads/')
    url.searchParams.set('mount', digest)
    url.searchParams.set('from', fromRepository)
    const scopes = [...this.scopes, `repository:${fromRepository}:pull`]
    const res = await this.send('POST', url, {what: `mount ${shortDigest(digest)}`, op: 'mount', scopes, accept: [201, 202]})
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
    const res = await this.send('POST', this.url('blobs/uploads/'), {what: 'start upload', op: 'start-upload', accept: [202]})
    const min = Number(res.headers.get('oci-chunk-min-length'))
    return {location: this.location(res), ...(Number.isSafeInteger(min) && min > 0 ? {minChunk: min} : {})}
  }

  /** GET the upload session: where does the registry think it is? */
  async uploadStatus(location: URL): Promise<UploadStatus> {
    const res = await this.send('GET', location, {what: 'upload status', op: 'upload-status', accept: [204, 200, 404]})
    if (res.status === 404) {
      throw new UploadGoneError('the registry no longer accepts this upload session (404)')
    }
    return {location: this.location(res, location), size: parseRangeEnd(res.headers.get('range'))}
  }

  /**
   * PATCH the layer bytes [start, start + length), pulled from `pull` as they
   * arrive and streamed with backpressure. Returns the next Location. Any
   * failure leaves the session in an unknown state: the caller resyncs.
   */
  async patchStream(
    location: URL,
    start: number,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    opts: {signal?: AbortSignal; contentRange?: boolean; giveBack?: (piece: Buffer) => void} = {},
  ): Promise<URL> {
    const headers: Record<string, string> = {'content-type': 'application/octet-stream'}
    // Stream mode sends the whole layer in one PATCH without Content-Range.
    if (opts.contentRange !== false) headers['content-range'] = `${start}-${start + length - 1}`
    const res = await this.streamBody('PATCH', location, headers, length, pull, opts.signal, opts.giveBack)
    return this.location(res, location)
  }

  /** Monolithic upload: the whole layer in the PUT that closes the session. */
  async putStream(
    location: URL,
    digest: string,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    signal?: AbortSignal,
  ): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    await this.streamBody('PUT', url, {'content-type': 'application/octet-stream'}, length, pull, signal)
  }

  private async streamBody(
    method: string,
    location: URL,
    headers: Record<string, string>,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    signal?: AbortSignal,
    /** A piece's write completed (or it was never handed to the socket): its memory may be reused. */
    giveBack?: (piece: Buffer) => void,
  ): Promise<RawResponse> {
    const what = method === 'PUT' ? 'PUT blob' : 'PATCH chunk'
    const req = await this.transport.upload(method, location, {headers, contentLength: length, scopes: this.scopes, signal})
    let written = 0
    try {
      while (written < length && !req.answered) {
        const piece = await pull(length - written)
        await req.write(piece, giveBack && (() => giveBack(piece)))
        written += piece.length
      }
    } catch (error) {
      req.destroy()
      throw error
    }
    const res = await req.finish()
    const ok = res.status === 202 || res.status === 201 || res.status === 204 || res.status === 200
    if (ok && written < length) {
      res.body.resume()
      throw new RetryableError(`${what}: the registry answered ${res.status} after ${written} of ${length} bytes`)
    }
    if (ok) {
      res.body.resume()
      return res
    }
    throw await this.transport.failure(res, {what, op: method === 'PUT' ? 'put-blob' : 'patch', scopes: this.scopes})
  }

  /**
   * A small blob (a config) in one POST + PUT. Not checked with a HEAD after,
   * as layers are: the registry checks the digest of what the PUT carried, and
   * the manifest pushed next names the config, which registries refuse when
   * they do not hold it (MANIFEST_BLOB_UNKNOWN).
   */
  async pushBlob(bytes: Buffer, digest: string, opened?: Promise<{location: URL}>): Promise<void> {
    const ahead = await opened?.then(
      (s) => s.location,
      () => undefined,
    )
    if (ahead) {
      try {
        return await this.putBlob(ahead, bytes, digest)
      } catch {
        // The session opened ahead (push/ahead.ts) expired or was refused: a fresh one, as without it.
      }
    }
    await this.putBlob((await this.startUpload()).location, bytes, digest)
  }

  private async putBlob(location: URL, bytes: Buffer, digest: string): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    const headers = {'content-type': 'application/octet-stream'}
    await this.send('PUT', url, {
      what: `PUT blob ${shortDigest(digest)}`,
      op: 'put-blob',
      accept: [201, 204],
      body: new Uint8Array(bytes),
      headers,
    })
  }

  /**
   * PUT ?digest= to close the session. A PUT that failed may still have
   * committed (GHCR answers a retried commit with BLOB_UPLOAD_UNKNOWN; ACR
   * with a stray 416): HEAD the digest before concluding anything, and retry
   * only when it is not there. Whether a committed blob landed whole is the
   * caller's checkBlob, off this path (push/ahead.ts).
   */
  async commitUpload(location: URL, digest: string, size: number): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    const what = `commit ${shortDigest(digest)}`
    await this.transport.withRetries(
      async () => {
        try {
          const headers = {'content-type': 'application/octet-stream'}
          await this.send('PUT', url, {what, op: 'commit', accept: [201, 204], body: new Uint8Array(0), headers, retries: false})
        } catch (error) {
          const existing = await this.headBlob(digest).catch(() => undefined)
          if (existing && existing.size === size) return
          if (error instanceof UploadGoneError || (error instanceof RegistryRefusedError && error.status === 416))
            throw new RetryableError(error.message)
          throw error
        }
      },
      {what},
    )
  }

  async checkBlob(digest: string, size: number): Promise<void> {
    const found = await this.headBlob(digest)
    if (!found)
      throw new ModelcarError(`The registry accepted blob ${shortDigest(digest)} but HEAD does not find it.`, {code: 'E_REGISTRY_BLOB'})
    if (found.digest && found.digest !== digest)
      throw new ModelcarError(`The registry stored blob ${shortDigest(digest)} under digest ${found.digest}.`, {code: 'E_REGISTRY_BLOB'})
    if (found.size !== size)
      throw new ModelcarError(`The registry stored blob ${shortDigest(digest)} with ${found.size} bytes instead of ${size}.`, {
        code: 'E_REGISTRY_BLOB',
      })
  }

  async cancelUpload(location: URL): Promise<void> {
    await this.send('DELETE', location, {
      what: 'cancel upload',
      op: 'cancel-upload',
      accept: [204, 200, 202, 404, 405],
      retries: false,
    })
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.send('PUT', this.url(`manifests/${reference}`), {
      what: `PUT manifest ${reference}`,
      op: 'put-manifest',
      accept: [201, 200, 202],
      body: new Uint8Array(body),
      headers: {'content-type': mediaType},
    })
    return res.headers.get('docker-content-digest') ?? undefined
  }

  /** The digest a tag (or digest) resolves to now, or undefined when the registry has none or does not say. */
  async resolveManifest(reference: string): Promise<string | undefined> {
    const res = await this.head(this.url(`manifests/${reference}`), {
      what: `HEAD manifest ${reference}`,
      op: 'get-manifest',
      accept: [200, 404],
      headers: {accept: MANIFEST_TYPES.join(', ')},
    })
    return res.status === 200 ? res.header('docker-content-digest') : undefined
  }

  /**
   * The repository's tags (first page of at most `max`), or [] when the
   * repository does not exist yet. Registries that refuse listing throw.
   */
  async listTags(max = 1000): Promise<string[]> {
    const url = this.url('tags/list')
    url.searchParams.set('n', String(max))
    const what = 'list tags'
    const scopes = [`repository:${this.repository}:pull`]
    const res = await this.send('GET', url, {what, op: 'list-tags', accept: [200, 404], scopes, keepBody: true})
    if (res.status === 404) {
      await readPrefix(res).catch(() => undefined)
      return []
    }
    const doc = JSON.parse((await this.readBody(res, what)).toString('utf8')) as {tags?: unknown}
    return Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string').slice(0, max) : []
  }

  /**
   * A HEAD through node:http, retried like any control-plane request. undici
   * closes its connection after every HEAD (a guard against servers that
   * send a body anyway), which would cost a new connection, a handshake on a
   * real link, for every existence check; node:http keeps it.
   */
  async head(url: URL, o: RequestOptions & {op: RegistryOp}): Promise<{status: number; header(name: string): string | undefined}> {
    return this.transport.withRetries(async () => {
      const {res} = await this.transport.open(url, {...o, method: 'HEAD', scopes: o.scopes ?? this.scopes})
      res.body.resume()
      return {status: res.status, header: (name: string) => header(res.headers, name)}
    }, o)
  }

  /**
   * One control-plane request to this registry through its transport. The
   * answer's body is read to its end (capped) unless `keepBody` says the
   * caller reads it: a body left unread holds its connection, and the next
   * request would open another (a handshake per request on a real link).
   */
  async send(
    method: string,
    url: URL,
    o: RequestOptions & {op: RegistryOp; body?: Uint8Array; retries?: boolean; keepBody?: boolean},
  ): Promise<Response> {
    const res = await this.transport.request(method, url, {...o, scopes: o.scopes ?? this.scopes})
    if (!o.keepBody) await readPrefix(res).catch(() => undefined)
    return res
  }

  /** A small answer body (manifest, config), refused past `limit` bytes actually read. */
  async readBody(res: Response, what: string, limit: number = LIMITS.manifest): Promise<Buffer> {
    return readCapped(res, limit, what, this.transport.peer.name)
  }

  /**
   * An upload Location: relative ones resolve against the URL that answered
   * (a session may have moved to a storage host), and an HTTPS registry's
   * sessions never continue over plain HTTP.
   */
  private location(res: Response | RawResponse, fallback?: URL): URL {
    const value = res instanceof Response ? res.headers.get('location') : header(res.headers, 'location')
    if (!value) {
      if (fallback) return fallback
      throw new ModelcarError(`The registry ${this.endpoint.host} opened an upload without a Location header.`, {
        code: 'E_REGISTRY_PROTOCOL',
      })
    }
    const answered = res instanceof Response ? (res.url ? new URL(res.url) : (fallback ?? this.base)) : res.url
    const url = new URL(value, answered)
    if (this.base.protocol === 'https:' && url.protocol !== 'https:') {
      throw new ModelcarError(`The registry ${this.endpoint.host} sent an upload Location on plain HTTP; refusing.`, {
        code: 'E_REGISTRY_PROTOCOL',
      })
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

/** An answer the request did not accept, as an error: by status, OCI error code and what the request does. */
function describeFailure(answer: FailedAnswer, request: RequestOptions): Error {
  const {status} = answer
  const op = request.op as RegistryOp | undefined
  let code: string | undefined
  let message = ''
  try {
    const parsed = JSON.parse(answer.body) as {errors?: Array<{code?: string; message?: string}>}
    code = parsed.errors?.[0]?.code
    message = parsed.errors?.[0]?.message ?? ''
  } catch {
    // not an OCI error document
  }
  const detail = `${request.what}: registry answered HTTP ${status}${code ? ` ${code}` : ''}${message ? ` (${message.slice(0, 200)})` : ''}`
  if (isTransientStatus(status)) return new RetryableError(detail, parseRetryAfter(answer.header('retry-after')), {status})
  if (answer.offOrigin && (status === 401 || status === 403)) {
    return new RegistryRefusedError(
      `${request.what}: the storage at ${answer.url.host} the registry redirected to answered HTTP ${status}.`,
      status,
    )
  }
  const onSession = op === 'start-upload' || op === 'upload-status' || op === 'cancel-upload'
  if (status === 404 && code === 'NAME_UNKNOWN' && !onSession)
    return new UsageError(`${detail}: check --target-repo.`, 'E_REGISTRY_REFUSED')
  // distribution signs the offset into the upload Location: after a PATCH
  // whose bytes it partly kept, the old Location answers BLOB_UPLOAD_INVALID.
  if (code === 'BLOB_UPLOAD_UNKNOWN' || (status === 404 && (code === 'BLOB_UPLOAD_INVALID' || op === 'patch' || op === 'upload-status'))) {
    return new UploadGoneError(detail)
  }
  return new RegistryRefusedError(detail, status, code)
}
