// The data path's HTTP: node:http(s) directly. Node 20's fetch tees streamed
// bodies (buffering whole uploads) and ky clones every body, so blob bytes
// travel here, or for downloads on direct routes through http/socket-get.ts
// (no copy of each body chunk); ky serves the small JSON/HEAD/token/manifest
// calls. Which agent (direct, proxied, which TLS trust) is the caller's
// choice: net/connections.ts.
import http from 'node:http'
import https from 'node:https'
import type {IncomingHttpHeaders} from 'node:http'
import type {Readable} from 'node:stream'
import {ModelcarError} from '../errors.js'

export interface RawRequest {
  method: string
  headers?: Record<string, string | number>
  /** No byte moving in either direction for this long aborts the request. */
  idleTimeoutMs?: number
  agent?: http.Agent
  /** TLS settings for this request (CAs, client certificate, verification). */
  tls?: {ca?: string[]; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean}
  /** Turns a failed connection into the error the caller reports. */
  describe?: (error: NodeJS.ErrnoException) => Error
  signal?: AbortSignal
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  /** node:http's IncomingMessage, or socket-get's reader. */
  body: Readable
  url: URL
}

/** A network-level failure (reset, timeout, DNS, TLS): worth a retry unless `permanent`. */
export class TransportError extends ModelcarError {
  /** No retry can help: a wrong port, an untrusted certificate, an unknown host, a proxy's refusal. */
  readonly permanent: boolean

  constructor(
    message: string,
    readonly host: string,
    options?: {cause?: unknown; permanent?: boolean},
  ) {
    super(message, {code: 'E_NETWORK', cause: options?.cause})
    this.name = 'TransportError'
    this.permanent = options?.permanent ?? false
  }
}

/** A request without a body (GET, HEAD): resolves with the answer's head; the body streams. */
export function rawRequest(url: URL, req: RawRequest): Promise<RawResponse> {
  return streamingRequest(url, req).finish()
}

/** A proxy answered CONNECT with something else than 200: the tunnel never opened. */
export class ProxyConnectError extends Error {
  readonly code = 'E_PROXY_CONNECT'
  constructor(
    readonly status: number,
    readonly statusText: string,
  ) {
    super(`Proxy response (${status}) !== 200 when HTTP Tunneling`)
    this.name = 'ProxyConnectError'
  }
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/** A request whose body is written piece by piece (with backpressure). */
export interface StreamingRequest {
  /**
   * Resolves once the piece is handed to the socket (waits for 'drain').
   * `flushed` is called once the socket no longer reads it (its write's
   * callback, or at once when the exchange ended and it was never written).
   */
  write(piece: Buffer, flushed?: () => void): Promise<void>
  /** Ends the body and waits for the answer. */
  finish(): Promise<RawResponse>
  /** True once the server answered (possibly early, before the whole body). */
  readonly answered: boolean
  destroy(error?: Error): void
}

/** Both kinds of request: with `contentLength`, a body is written piece by piece before finish(). */
export function streamingRequest(url: URL, req: RawRequest & {contentLength?: number}): StreamingRequest {
  const lib = url.protocol === 'https:' ? https : http
  const headers = req.contentLength === undefined ? {...req.headers} : {...req.headers, 'content-length': req.contentLength}
  const request = lib.request(url, {method: req.method, headers, agent: req.agent, signal: req.signal, ...req.tls})
  // https-proxy-agent replays a refused CONNECT's answer as if the origin had
  // sent it: catch it here, so a proxy's 403 is never taken for the origin's.
  request.once('proxyConnect', (connect: {statusCode: number; statusText?: string}) => {
    if (connect.statusCode !== 200) request.destroy(new ProxyConnectError(connect.statusCode, connect.statusText ?? ''))
  })
  let answered = false
  let failure: Error | undefined
  const response = new Promise<RawResponse>((resolve, reject) => {
    request.on('response', (res) => {
      answered = true
      resolve({status: res.statusCode ?? 0, headers: res.headers, body: res, url})
    })
    request.on('error', (error: NodeJS.ErrnoException) => {
      failure = error instanceof TransportError || error.name === 'AbortError' ? error : (req.describe?.(error) ?? error)
      reject(failure)
    })
  })
  response.catch(() => undefined)
  const idle = req.idleTimeoutMs ?? 60_000
  request.setTimeout(idle, () =>
    request.destroy(new TransportError(`no data from or to ${url.host} for ${Math.round(idle / 1000)} s`, url.host)),
  )
  return {
    get answered() {
      return answered
    },
    write(piece, flushed) {
      if (failure) return Promise.reject(failure)
      // An early answer (a 401, a 416) ends the exchange: stop writing.
      if (answered || request.destroyed) {
        flushed?.()
        return Promise.resolve()
      }
      const written = flushed && ((error?: Error | null) => error || flushed())
      if (request.write(piece, written)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const done = () => {
          request.off('drain', done)
          request.off('response', done)
          request.off('close', done)
          if (failure) reject(failure)
          else resolve()
        }
        request.once('drain', done)
        request.once('response', done)
        request.once('close', done)
      })
    },
    finish() {
      if (!answered && !failure) request.end()
      return response
    },
    destroy(error) {
      request.destroy(error)
    },
  }
}
