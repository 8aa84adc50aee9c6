// GET and HEAD over our own HTTP/1.1 response reader, for direct routes.
// Node 20's HTTP parser copies every body chunk it hands out (on_body ->
// Buffer::Copy): CPU for the copy, and an ArrayBuffer of garbage per 64 KiB
// that V8 frees only after ~64 MiB of external growth (a mark-compact each
// time). Here sockets read into reused arenas (http/read-arenas.ts); a `lend`
// request's accepted body pieces are views of them, lent to the consumer, who
// gives each back once written. Other bodies (errors, redirects, blob reads)
// get copies, owned as node:http's are. The body is an object-mode stream: one
// piece per read, never concatenated.
// Same contract as rawRequest() (http/raw.ts); proxied routes keep node:http.
import net, {type LookupFunction, type Socket} from 'node:net'
import {Readable} from 'node:stream'
import tls from 'node:tls'
import type {IncomingHttpHeaders} from 'node:http'
import {TransportError, type RawRequest, type RawResponse} from './raw.js'
import {READ_BYTES, SocketReads} from './read-arenas.js'

/** The longest answer head accepted (node:http's own limit is 16 KiB). */
export const MAX_HEAD_BYTES = 64 << 10
/** Idle sockets are closed before a node:http server's 5 s keep-alive timeout would close them under us. */
const IDLE_SOCKET_MS = 4000
const MAX_IDLE_PER_ORIGIN = 8

export interface SocketGetRequest extends Omit<RawRequest, 'agent'> {
  /** The route's idle connections. */
  pool: SocketPool
  /** How host names resolve (the route's guard against metadata addresses). */
  lookup?: LookupFunction
  /** How many bytes of a body are read ahead of its consumer before the socket pauses. */
  highWaterMark?: number
  /** A 2xx body's pieces are lent from the socket's arena: the consumer gives each back (giveBack) once done with it. */
  lend?: boolean
}

const readsOf = new WeakMap<Socket, SocketReads>()

/** Idle keep-alive connections, a few per origin; unref'd, closed after a few seconds. */
export class SocketPool {
  private readonly idle = new Map<string, Array<{socket: Socket; forget: () => void}>>()

  take(origin: string): Socket | undefined {
    const list = this.idle.get(origin)
    for (let entry = list?.pop(); entry; entry = list?.pop()) {
      entry.forget()
      if (!entry.socket.destroyed && entry.socket.writable) return entry.socket.ref()
      entry.socket.destroy()
    }
    return undefined
  }

  give(origin: string, socket: Socket): void {
    const list = this.idle.get(origin) ?? []
    this.idle.set(origin, list)
    if (list.length >= MAX_IDLE_PER_ORIGIN) return void socket.destroy()
    // Anything from an idle connection (bytes, an error, the end) makes it useless.
    const reads = readsOf.get(socket)!
    const drop = () => {
      forget()
      const at = list.findIndex((e) => e.socket === socket)
      if (at >= 0) list.splice(at, 1)
      socket.destroy()
    }
    const forget = () => {
      reads.handler = undefined
      socket.off('error', drop).off('end', drop).off('close', drop).off('timeout', drop)
      socket.setTimeout(0)
    }
    reads.handler = drop
    socket.on('error', drop).on('end', drop).on('close', drop).on('timeout', drop)
    socket.setTimeout(IDLE_SOCKET_MS)
    // Reading, so that the server closing it is noticed (a body's consumer may have paused it).
    socket.resume()
    socket.unref()
    list.push({socket, forget})
  }

  /** Close every idle connection (tests). */
  close(): void {
    for (const list of this.idle.values()) for (const entry of list.splice(0)) entry.socket.destroy()
  }
}

/** A request without a body (GET, HEAD): resolves with the answer's head; the body streams. */
export async function socketGet(url: URL, req: SocketGetRequest): Promise<RawResponse> {
  const reused = req.pool.take(url.origin)
  if (!reused) return exchange(url, req, connect(url, req), false)
  try {
    return await exchange(url, req, reused, true)
  } catch (error) {
    // The server closed an idle connection as we reused it: once more on a fresh one (GET and HEAD are safe to repeat).
    if (!(error instanceof StaleSocketError)) throw error
    return exchange(url, req, connect(url, req), false)
  }
}

class StaleSocketError extends Error {}

function connect(url: URL, req: SocketGetRequest): Socket {
  const reads = new SocketReads()
  const socket = openSocket(url, req, reads.onread)
  readsOf.set(socket, reads)
  socket.once('close', () => reads.seal())
  return socket
}

function openSocket(url: URL, req: SocketGetRequest, onread: SocketReads['onread']): Socket {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const secure = url.protocol === 'https:'
  const port = Number(url.port || (secure ? 443 : 80))
  if (!secure) return net.connect({host, port, lookup: req.lookup, noDelay: true, onread})
  const {ca, cert, key, rejectUnauthorized} = req.tls ?? {}
  // tls.connect takes net's `onread` (documented; missing from @types/node's ConnectionOptions).
  const options: tls.ConnectionOptions & {onread: SocketReads['onread']} = {
    host,
    port,
    lookup: req.lookup,
    onread,
    servername: net.isIP(host) ? undefined : host,
    ALPNProtocols: ['http/1.1'],
    ca,
    cert,
    key,
    // Left out when unset, so NODE_TLS_REJECT_UNAUTHORIZED applies as with node:https.
    ...(rejectUnauthorized === undefined ? {} : {rejectUnauthorized}),
  }
  return tls.connect(options).setNoDelay(true)
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', {cause: signal.reason}), {name: 'AbortError', code: 'ABORT_ERR'})
}

/** The error node:http gives a body cut short: LayerReader and the blob reader retry on it. */
function cutShort(cause?: Error): Error {
  return Object.assign(new Error('aborted', {cause}), {code: 'ECONNRESET'})
}

/** One request and its answer on `socket`; the socket goes back to the pool once the whole body was read from it. */
function exchange(url: URL, req: SocketGetRequest, socket: Socket, reused: boolean): Promise<RawResponse> {
  const method = req.method.toUpperCase()
  const host = url.host
  let head: Buffer | undefined
  let body: Readable | undefined
  let framing: BodyFraming | undefined
  let keepAlive = false
  let settled = false
  let resolveHead!: (res: RawResponse) => void
  let rejectHead!: (error: Error) => void
  const answered = new Promise<RawResponse>((resolve, reject) => {
    resolveHead = resolve
    rejectHead = reject
  })

  const reads = readsOf.get(socket)!
  let lend = false
  const detach = () => {
    reads.handler = undefined
    socket.off('error', onError).off('end', onEnd).off('close', onClose).off('timeout', onTimeout)
    req.signal?.removeEventListener('abort', onAbort)
    socket.setTimeout(0)
  }
  /** Fail the exchange: the head's promise if it is still pending, else the body. */
  const fail = (error: Error) => {
    if (settled) return
    settled = true
    detach()
    socket.destroy()
    if (body) body.destroy(error)
    else rejectHead(error)
  }
  const finish = (leftover: boolean) => {
    if (settled) return
    settled = true
    detach()
    if (keepAlive && !leftover && !socket.destroyed) req.pool.give(url.origin, socket)
    else socket.destroy()
    body!.push(null)
  }

  /** `chunk` is a view of the socket's arena, valid until the next read: keep only copies or lent pieces. */
  const onData = (chunk: Buffer) => {
    try {
      if (!body) {
        const bytes = head ? Buffer.concat([head, chunk]) : chunk
        const parsed = parseHead(bytes, host)
        if (!parsed) {
          head = head ? bytes : Buffer.from(chunk)
          return
        }
        head = undefined
        if (parsed.status >= 100 && parsed.status < 200) {
          // 100 Continue, 103 Early Hints: the real answer follows.
          if (parsed.rest.length > 0) onData(parsed.rest)
          return
        }
        keepAlive = parsed.keepAlive
        framing = bodyFraming(method, parsed, host)
        lend = req.lend === true && parsed.status >= 200 && parsed.status < 300
        body = new Readable({
          objectMode: true,
          highWaterMark: Math.max(1, Math.ceil((req.highWaterMark ?? 4 * READ_BYTES) / READ_BYTES)),
          read: () => {
            if (!settled) socket.resume()
          },
          destroy: (error, callback) => {
            // Destroyed before its end: the connection is mid-answer, never reused.
            if (!settled) {
              settled = true
              detach()
              socket.destroy()
            }
            // As node's IncomingMessage: 'error' is emitted only to a listener; a later read still fails (the stream keeps it).
            callback(error && body!.listenerCount('error') > 0 ? error : null)
          },
        })
        resolveHead({status: parsed.status, headers: parsed.headers, body, url})
        chunk = parsed.rest
      }
      const f = framing!
      let more = true
      const done = f.feed(chunk, (piece) => (more = body!.push(lend ? reads.lend(piece) : Buffer.from(piece)) && more))
      // A consumer may have destroyed the body while it was handed a piece.
      if (settled) return
      if (done) finish(f.leftover)
      else if (!more) socket.pause()
    } catch (error) {
      fail(error as Error)
    }
  }
  const onError = (error: NodeJS.ErrnoException) => {
    if (reused && !body && !head) return fail(new StaleSocketError(error.message))
    fail(body ? cutShort(error) : (req.describe?.(error) ?? error))
  }
  const onEnd = () => {
    // An answer framed by the connection's end is complete now.
    if (framing?.untilClose) return finish(false)
    onClose()
  }
  const onClose = () => {
    if (reused && !body && !head) return fail(new StaleSocketError('closed'))
    if (body) return fail(cutShort())
    fail(req.describe?.(Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})) ?? new Error('socket hang up'))
  }
  const idle = req.idleTimeoutMs ?? 60_000
  const onTimeout = () => fail(new TransportError(`no data from or to ${host} for ${Math.round(idle / 1000)} s`, host))
  const onAbort = () => fail(abortError(req.signal!))

  if (req.signal?.aborted) {
    if (!reused) socket.destroy()
    else req.pool.give(url.origin, socket)
    return Promise.reject(abortError(req.signal))
  }
  req.signal?.addEventListener('abort', onAbort, {once: true})
  reads.handler = onData
  socket.on('error', onError).on('end', onEnd).on('close', onClose).on('timeout', onTimeout)
  socket.setTimeout(idle)
  socket.resume()
  try {
    socket.write(requestHead(method, url, req.headers ?? {}))
  } catch (error) {
    fail(error as Error)
  }
  return answered
}

function requestHead(method: string, url: URL, headers: Record<string, string | number>): string {
  let text = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`
  for (const [name, value] of Object.entries(headers)) {
    const v = String(value)
    // As node:http: no header may smuggle a line break into the request.
    if (!TOKEN.test(name) || /[\r\n\0]/.test(v)) throw new TypeError(`invalid header ${JSON.stringify(name)}`)
    text += `${name}: ${v}\r\n`
  }
  return `${text}\r\n`
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/
/** Headers node:http keeps only the first of (IncomingMessage's matchKnownFields). */
const FIRST_ONLY = new Set(
  'content-type content-length user-agent referer host authorization proxy-authorization if-modified-since if-unmodified-since from location max-forwards retry-after etag last-modified server age expires'.split(
    ' ',
  ),
)

interface Head {
  status: number
  headers: IncomingHttpHeaders
  keepAlive: boolean
  /** The bytes after the head (the start of the body), a subarray. */
  rest: Buffer
}

/** The answer's head once all of it arrived in `bytes`, else undefined. */
function parseHead(bytes: Buffer, host: string): Head | undefined {
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0 && bytes.length > MAX_HEAD_BYTES) throw malformed(host, `an answer head over ${MAX_HEAD_BYTES >> 10} KiB`)
  if (end < 0) return undefined
  if (end > MAX_HEAD_BYTES) throw malformed(host, `an answer head over ${MAX_HEAD_BYTES >> 10} KiB`)
  const lines = bytes.toString('latin1', 0, end).split('\r\n')
  const status = STATUS_LINE.exec(lines[0])
  if (!status) throw malformed(host, `a malformed status line ${JSON.stringify(lines[0].slice(0, 64))}`)
  const headers: IncomingHttpHeaders = {}
  const all = headers as Record<string, string | string[]>
  for (const line of lines.slice(1)) {
    const m = HEADER_LINE.exec(line)
    if (!m) throw malformed(host, `a malformed header line ${JSON.stringify(line.slice(0, 64))}`)
    const name = m[1].toLowerCase()
    const value = m[2]
    const had = all[name]
    if (name === 'set-cookie') all[name] = [...((had as string[] | undefined) ?? []), value]
    else if (had === undefined) all[name] = value
    else if (!FIRST_ONLY.has(name)) all[name] = `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  const connection = (headers.connection ?? '').toLowerCase()
  const keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection)
  return {status: Number(status[2]), headers, keepAlive, rest: bytes.subarray(end + 4)}
}

function malformed(host: string, what: string): TransportError {
  return new TransportError(`${host} sent ${what}: not a valid HTTP/1.1 answer`, host)
}

/** How an answer's body ends, fed the socket's chunks. */
interface BodyFraming {
  /** Hands the body's bytes in `chunk` to `push` (as subarrays); true once the body is complete. */
  feed(chunk: Buffer, push: (piece: Buffer) => void): boolean
  /** Bytes came after the body's end (the connection cannot be reused). */
  leftover: boolean
  /** The body ends when the connection does. */
  untilClose: boolean
}

function bodyFraming(method: string, head: Head, host: string): BodyFraming {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return sized(0)
  const te = head.headers['transfer-encoding']
  if (te !== undefined) {
    // Chunked must be the last coding; any other framing by transfer coding ends with the connection.
    if (/(?:^|,)\s*chunked\s*$/i.test(te)) return chunked(host)
    head.keepAlive = false
    return untilClose()
  }
  const length = head.headers['content-length']
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) throw malformed(host, `a malformed content-length ${JSON.stringify(length.slice(0, 32))}`)
    return sized(Number(length))
  }
  head.keepAlive = false
  return untilClose()
}

function sized(length: number): BodyFraming {
  let remaining = length
  const framing: BodyFraming = {
    leftover: false,
    untilClose: false,
    feed(chunk, push) {
      const take = Math.min(remaining, chunk.length)
      if (take > 0) push(take === chunk.length ? chunk : chunk.subarray(0, take))
      remaining -= take
      if (chunk.length > take) framing.leftover = true
      return remaining === 0
    },
  }
  if (length === 0) framing.feed = (chunk) => ((framing.leftover ||= chunk.length > 0), true)
  return framing
}

function untilClose(): BodyFraming {
  return {
    leftover: false,
    untilClose: true,
    feed(chunk, push) {
      if (chunk.length > 0) push(chunk)
      return false
    },
  }
}

/** Transfer-Encoding: chunked, with chunk extensions (ignored) and trailers (dropped). */
function chunked(host: string): BodyFraming {
  let state: 'size' | 'data' | 'data-end' | 'trailers' = 'size'
  /** The line read so far (size line, trailer line, or the CRLF after data), when split across chunks. */
  let line = ''
  let remaining = 0
  let trailerBytes = 0
  const framing: BodyFraming = {
    leftover: false,
    untilClose: false,
    feed(chunk, push) {
      let at = 0
      while (at < chunk.length) {
        if (state === 'data') {
          const take = Math.min(remaining, chunk.length - at)
          push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take))
          at += take
          remaining -= take
          if (remaining === 0) state = 'data-end'
          continue
        }
        // The other states read lines.
        const lf = chunk.indexOf(10, at)
        const stop = lf < 0 ? chunk.length : lf + 1
        line += chunk.toString('latin1', at, stop)
        at = stop
        if (line.length > 4096 && state !== 'trailers') throw malformed(host, 'a chunk size line over 4 KiB')
        if (lf < 0) continue
        if (!line.endsWith('\r\n')) throw malformed(host, 'a chunk line without CRLF')
        const text = line.slice(0, -2)
        line = ''
        if (state === 'data-end') {
          if (text !== '') throw malformed(host, 'a chunk longer than its size')
          state = 'size'
        } else if (state === 'size') {
          const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(text)
          if (!m) throw malformed(host, `a malformed chunk size ${JSON.stringify(text.slice(0, 32))}`)
          remaining = parseInt(m[1], 16)
          state = remaining === 0 ? 'trailers' : 'data'
        } else {
          trailerBytes += text.length + 2
          if (trailerBytes > MAX_HEAD_BYTES) throw malformed(host, `trailers over ${MAX_HEAD_BYTES >> 10} KiB`)
          if (text === '') {
            framing.leftover = at < chunk.length
            return true
          }
        }
      }
      return false
    },
  }
  return framing
}
