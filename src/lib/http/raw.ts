// The data path's HTTP: node:http(s) directly. Node 20's fetch tees streamed
// bodies (buffering whole uploads) and ky clones every body, so blob bytes
// travel here; ky serves the small JSON/HEAD/token/manifest calls.
import http from 'node:http'
import https from 'node:https'
import type {IncomingHttpHeaders, IncomingMessage} from 'node:http'
import {ModelcarError} from '../errors.js'

// Sockets buffer up to 256 KiB each way (Node 20's default is 16 KiB): the
// Hub body arrives in fewer, larger pieces and PATCH writes drain less often
// (with 1 MiB a 512 MiB download alone took 1.11 -> 0.80 CPU-s, but peak RSS
// at --workers 4 rose past 150 MiB; 256 KiB keeps it near 143 MiB).
const socketBuffers = {readableHighWaterMark: 256 << 10, writableHighWaterMark: 256 << 10} as object
const httpAgent = new http.Agent({keepAlive: true, maxSockets: 32, ...socketBuffers})
const httpsAgent = new https.Agent({keepAlive: true, maxSockets: 32, ...socketBuffers})

export interface RawRequest {
  method: string
  headers?: Record<string, string | number>
  /** No byte moving in either direction for this long aborts the request. */
  idleTimeoutMs?: number
  signal?: AbortSignal
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: IncomingMessage
  url: URL
}

/** A network-level failure (reset, timeout, DNS): worth a retry. */
export class TransportError extends ModelcarError {
  constructor(message: string, readonly host: string, options?: {cause?: unknown}) {
    super(message, {code: 'E_NETWORK', cause: options?.cause})
    this.name = 'TransportError'
  }
}

/** A request without a body (GET, HEAD): resolves with the answer's head; the body streams. */
export function rawRequest(url: URL, req: RawRequest): Promise<RawResponse> {
  return streamingRequest(url, req).finish()
}

/** Read a small response body (error documents, upload status) as text, capped. */
export async function readText(res: RawResponse, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk.subarray(0, limit - size))
    size += chunk.length
  }
  return Buffer.concat(chunks).toString('utf8')
}

export function describeNetworkError(error: NodeJS.ErrnoException, host: string): string {
  switch (error.code) {
    case 'ECONNREFUSED': return `connection to ${host} refused`
    case 'ENOTFOUND': case 'EAI_AGAIN': return `cannot resolve host ${host}`
    case 'ECONNRESET': return `connection to ${host} was reset`
    case 'ETIMEDOUT': return `connection to ${host} timed out`
    default:
      if (error.code?.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(error.message)) {
        return `TLS error talking to ${host}: ${error.message}`
      }
      return `network error talking to ${host}: ${error.message}`
  }
}

export function header(headers: IncomingHttpHeaders | Headers, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/** A request whose body is written piece by piece (with backpressure). */
export interface StreamingRequest {
  /** Resolves once the piece is handed to the socket (waits for 'drain'). */
  write(piece: Buffer): Promise<void>
  /** Ends the body and waits for the answer. */
  finish(): Promise<RawResponse>
  /** True once the server answered (possibly early, before the whole body). */
  readonly answered: boolean
  destroy(error?: Error): void
}

/** Both kinds of request: with `contentLength`, a body is written piece by piece before finish(). */
export function streamingRequest(url: URL, req: RawRequest & {contentLength?: number}): StreamingRequest {
  const lib = url.protocol === 'https:' ? https : http
  const agent = url.protocol === 'https:' ? httpsAgent : httpAgent
  const headers = req.contentLength === undefined ? {...req.headers} : {...req.headers, 'content-length': req.contentLength}
  const request = lib.request(url, {method: req.method, headers, agent, signal: req.signal})
  let answered = false
  let failure: Error | undefined
  const response = new Promise<RawResponse>((resolve, reject) => {
    request.on('response', (res) => {
      answered = true
      resolve({status: res.statusCode ?? 0, headers: res.headers, body: res, url})
    })
    request.on('error', (error: NodeJS.ErrnoException) => {
      failure = error instanceof TransportError || error.name === 'AbortError' ? error : new TransportError(describeNetworkError(error, url.host), url.host, {cause: error})
      reject(failure)
    })
  })
  response.catch(() => undefined)
  const idle = req.idleTimeoutMs ?? 60_000
  request.setTimeout(idle, () => request.destroy(new TransportError(`no data from or to ${url.host} for ${Math.round(idle / 1000)} s`, url.host)))
  return {
    get answered() {
      return answered
    },
    write(piece) {
      if (failure) return Promise.reject(failure)
      // An early answer (a 401, a 416) ends the exchange: stop writing.
      if (answered || request.destroyed) return Promise.resolve()
      if (request.write(piece)) return Promise.resolve()
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
