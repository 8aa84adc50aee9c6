// Our own HTTP/1.1 response reader (http/socket-get.ts) against real servers
// on 127.0.0.1: node:http servers, raw TCP servers that send exactly the bytes
// a case needs (split chunks, cut bodies, oversized heads), and HTTPS with a
// private CA.
import {once} from 'node:events'
import {readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net, {type AddressInfo, type LookupFunction} from 'node:net'
import type {Readable} from 'node:stream'
import type {TLSSocket} from 'node:tls'
import {expect} from 'chai'
import {makePki, type Pki} from '../../fixtures/pki.js'
import {TransportError} from '../../../src/lib/http/raw.js'
import {socketGet, SocketPool, type SocketGetRequest} from '../../../src/lib/http/socket-get.js'
import {arenaStats, giveBack, inArena} from '../../../src/lib/http/read-arenas.js'

interface Server {
  url: string
  /** Connections accepted so far. */
  connections: number
  close(): Promise<void>
}

async function listen(server: net.Server, scheme = 'http'): Promise<Server> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const sockets = new Set<net.Socket>()
  const s: Server = {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  server.on(scheme === 'https' ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    s.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return s
}

/** A TCP server that hands each request head it reads to `answer` (the socket to write the answer on). */
function rawServer(answer: (socket: net.Socket, head: string) => void): Promise<Server> {
  return listen(
    net.createServer((socket) => {
      socket.setNoDelay(true)
      let pending = ''
      socket.on('data', (d) => {
        pending += d.toString('latin1')
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const head = pending.slice(0, end)
          pending = pending.slice(end + 4)
          answer(socket, head)
        }
      })
      socket.on('error', () => undefined)
    }),
  )
}

/** Writes the pieces one by one, a few milliseconds apart, so that each arrives in its own read. */
async function trickle(socket: net.Socket, pieces: Array<string | Buffer>): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return
    socket.write(piece)
    await new Promise((r) => setTimeout(r, 15))
  }
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function failure(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (error: NodeJS.ErrnoException) => error,
  )
}

const bytes = (n: number) => Buffer.from(Array.from({length: n}, (_, i) => (i * 7 + (i >> 8)) & 255))

describe('http/socket-get', () => {
  let pool: SocketPool
  const servers: Server[] = []
  const serve = async (s: Promise<Server>) => {
    const server = await s
    servers.push(server)
    return server
  }
  const httpServer = (handler: http.RequestListener) => serve(listen(http.createServer(handler)))
  const get = (url: string, o: Partial<SocketGetRequest> = {}) => socketGet(new URL(url), {method: 'GET', pool, idleTimeoutMs: 2000, ...o})

  beforeEach(() => (pool = new SocketPool()))
  afterEach(async () => {
    pool.close()
    for (const s of servers.splice(0)) await s.close()
  })

  it('reads a Content-Length body into pieces the caller owns (copies, intact whatever the socket reads next)', async () => {
    const payload = bytes(3 << 20)
    const s = await httpServer((_req, res) => res.writeHead(200, {'content-length': payload.length, 'x-kind': 'sized'}).end(payload))
    const res = await get(`${s.url}/file?x=1`)
    expect(res.status).to.equal(200)
    expect(res.headers['x-kind']).to.equal('sized')
    expect(res.url.href).to.equal(`${s.url}/file?x=1`)
    const chunks: Buffer[] = []
    for await (const chunk of res.body as AsyncIterable<Buffer>) chunks.push(chunk)
    expect(chunks.some(inArena)).to.equal(false)
    // The same connection reads another body into the same arena: the first stays as it was.
    for await (const _ of (await get(`${s.url}/file`)).body);
    expect(Buffer.concat(chunks).equals(payload)).to.equal(true)
  })

  it("lends a 2xx body: its pieces are views of the socket's reads, intact until given back, then reused", async () => {
    const payload = bytes(3 << 20)
    const s = await httpServer((req, res) => {
      if (req.url === '/missing') return res.writeHead(404, {'content-length': 9}).end('not found')
      res.writeHead(200, {'content-length': payload.length}).end(payload)
    })
    const first = await get(`${s.url}/file`, {lend: true})
    const lent: Buffer[] = []
    for await (const chunk of first.body as AsyncIterable<Buffer>) lent.push(chunk)
    expect(lent.every(inArena)).to.equal(true)
    // No copy: the first piece sits after the head's bytes in the read that carried it.
    expect(lent[0].byteOffset).to.be.greaterThan(40)
    // Read on the same connection while the first body's pieces are still held: they are not overwritten.
    const second = await get(`${s.url}/file`, {lend: true})
    const again: Buffer[] = []
    for await (const chunk of second.body as AsyncIterable<Buffer>) {
      again.push(Buffer.from(chunk))
      giveBack(chunk)
    }
    expect(Buffer.concat(lent).equals(payload)).to.equal(true)
    expect(Buffer.concat(again).equals(payload)).to.equal(true)
    // An error answer is not lent, even when asked: the transport reads and drops it.
    const missing = await get(`${s.url}/missing`, {lend: true})
    const errorBody: Buffer[] = []
    for await (const chunk of missing.body as AsyncIterable<Buffer>) errorBody.push(chunk)
    expect(missing.status).to.equal(404)
    expect(errorBody.some(inArena)).to.equal(false)

    for (const piece of lent) giveBack(piece)
    pool.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Every arena came back: a new connection's reads go into them, not into new memory.
    const before = arenaStats()
    expect(before.free).to.be.greaterThan(10)
    for await (const chunk of (await get(`${s.url}/file`, {lend: true})).body as AsyncIterable<Buffer>) giveBack(chunk)
    const after = arenaStats()
    expect(after.created).to.equal(before.created)
    expect(after.reused).to.be.greaterThan(before.reused + 10)
  })

  it('decodes a chunked body from node:http (no content-length)', async () => {
    const payload = bytes(1 << 20)
    const s = await httpServer((_req, res) => {
      res.writeHead(200)
      for (let at = 0; at < payload.length; at += 100_003) res.write(payload.subarray(at, at + 100_003))
      res.end()
    })
    const res = await get(s.url)
    expect(res.headers['transfer-encoding']).to.equal('chunked')
    expect((await readAll(res.body)).equals(payload)).to.equal(true)
  })

  it('decodes chunks split across socket reads, with chunk extensions and trailers, and reuses the connection', async () => {
    const s = await serve(
      rawServer((socket, head) => {
        if (head.startsWith('GET /again')) return void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
        void trickle(socket, [
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n',
          '\r\n1',
          '0;name="va;lue"\r\nhello', // a 16-byte chunk whose size line and data are split
          ' wor',
          'ld, bye\r',
          '\n',
          '3\r\nabc\r\n0\r\nx-trailer: 1\r\n',
          '\r\n',
        ])
      }),
    )
    const res = await get(`${s.url}/split`)
    expect((await readAll(res.body)).toString()).to.equal('hello world, byeabc')
    expect(res.headers['x-trailer'], 'trailers are not headers').to.equal(undefined)
    expect((await readAll((await get(`${s.url}/again`)).body)).toString()).to.equal('ok')
    expect(s.connections).to.equal(1)
  })

  it('HEAD, 204 and 304 have no body, and leave the connection reusable', async () => {
    const s = await httpServer((req, res) => {
      if (req.url === '/204') return void res.writeHead(204).end()
      if (req.url === '/304') return void res.writeHead(304, {etag: '"x"'}).end()
      res.writeHead(200, {'content-length': 1000}).end(req.method === 'HEAD' ? undefined : bytes(1000))
    })
    const head = await get(`${s.url}/f`, {method: 'HEAD'})
    expect(head.status).to.equal(200)
    expect(head.headers['content-length']).to.equal('1000')
    expect((await readAll(head.body)).length).to.equal(0)
    for (const status of [204, 304]) {
      const res = await get(`${s.url}/${status}`)
      expect(res.status).to.equal(status)
      expect((await readAll(res.body)).length).to.equal(0)
    }
    expect((await readAll((await get(`${s.url}/f`)).body)).length).to.equal(1000)
    expect(s.connections).to.equal(1)
  })

  it('reuses a connection, but not after `connection: close`, a body destroyed early, or a body framed by the close', async () => {
    const big = bytes(8 << 20)
    const s = await httpServer((req, res) => {
      if (req.url === '/close') return void res.writeHead(200, {connection: 'close', 'content-length': 2}).end('ok')
      if (req.url === '/big') return void res.writeHead(200, {'content-length': big.length}).end(big)
      if (req.url === '/unframed') {
        // HTTP/1.0 style: no length, no chunks; the body ends with the connection.
        res.useChunkedEncodingByDefault = false
        res.shouldKeepAlive = false
        res.writeHead(200)
        return void res.end('until close')
      }
      res.writeHead(200, {'content-length': 2}).end('ok')
    })
    await readAll((await get(`${s.url}/a`)).body)
    await readAll((await get(`${s.url}/b`)).body)
    expect(s.connections, 'two requests, one connection').to.equal(1)
    await readAll((await get(`${s.url}/close`)).body)
    await readAll((await get(`${s.url}/c`)).body)
    expect(s.connections, 'after connection: close').to.equal(2)
    const res = await get(`${s.url}/big`)
    const first = (await (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]().next()).value as Buffer
    expect(first.length).to.be.greaterThan(0)
    res.body.destroy()
    await readAll((await get(`${s.url}/d`)).body)
    expect(s.connections, 'after a body destroyed early').to.equal(3)
    expect((await readAll((await get(`${s.url}/unframed`)).body)).toString()).to.equal('until close')
    await readAll((await get(`${s.url}/e`)).body)
    // /unframed took the connection /d left; /e needs a new one.
    expect(s.connections, 'after a body framed by the close').to.equal(4)
  })

  it('a connection the server closed while idle is not used again', async () => {
    // As a server's keep-alive timeout does: the connection ends a moment after the answer.
    const s = await serve(
      rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', () => setTimeout(() => socket.end(), 50))),
    )
    await readAll((await get(s.url)).body)
    await new Promise((r) => setTimeout(r, 200))
    expect((await readAll((await get(s.url)).body)).toString()).to.equal('ok')
    expect(s.connections).to.equal(2)
  })

  it('a reused connection that closes before answering is retried once on a fresh one (the server timed it out as we sent)', async () => {
    const served = new WeakMap<net.Socket, number>()
    const s = await serve(
      rawServer((socket) => {
        const n = (served.get(socket) ?? 0) + 1
        served.set(socket, n)
        if (n === 2) return void socket.destroy()
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      }),
    )
    await readAll((await get(s.url)).body)
    expect((await readAll((await get(s.url)).body)).toString()).to.equal('ok')
    expect(s.connections).to.equal(2)
  })

  it('a body cut mid-way errors (never a silent short body), with Content-Length and chunked', async () => {
    const s = await serve(
      rawServer((socket, head) => {
        const start = head.startsWith('GET /chunked')
          ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10000\r\n'
          : 'HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n'
        socket.write(start)
        socket.write(bytes(30_000), () => setTimeout(() => socket.destroy(), 20))
      }),
    )
    for (const path of ['/sized', '/chunked']) {
      const res = await get(`${s.url}${path}`)
      let got = 0
      const error = await failure(
        (async () => {
          for await (const chunk of res.body as AsyncIterable<Buffer>) got += chunk.length
        })(),
      )
      expect(got, path).to.equal(30_000)
      expect(error.message, path).to.equal('aborted')
      expect(error.code, path).to.equal('ECONNRESET')
    }
  })

  it('no byte for idleTimeoutMs fails with a TransportError, before the head and in the body', async () => {
    const s = await serve(
      rawServer((socket, head) => {
        if (head.startsWith('GET /body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
      }),
    )
    const silent = await failure(get(`${s.url}/head`, {idleTimeoutMs: 200}))
    expect(silent).to.be.instanceOf(TransportError)
    expect(silent.message).to.equal(`no data from or to ${new URL(s.url).host} for 0 s`)
    const res = await get(`${s.url}/body`, {idleTimeoutMs: 200})
    const stalled = await failure(readAll(res.body))
    expect(stalled).to.be.instanceOf(TransportError)
  })

  it('an abort signal fails the request (AbortError), before the head and in the body', async () => {
    const s = await serve(
      rawServer((socket, head) => {
        if (head.startsWith('GET /body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
      }),
    )
    const early = new AbortController()
    setTimeout(() => early.abort(), 50)
    const before = await failure(get(`${s.url}/head`, {signal: early.signal}))
    expect(before.name).to.equal('AbortError')
    const late = new AbortController()
    const res = await get(`${s.url}/body`, {signal: late.signal})
    setTimeout(() => late.abort(), 50)
    expect((await failure(readAll(res.body))).name).to.equal('AbortError')
    // Aborted while nobody reads the body: no uncaught error (as node:http), and a later read fails.
    const unread = new AbortController()
    const res2 = await get(`${s.url}/body`, {signal: unread.signal})
    unread.abort()
    await new Promise((r) => setTimeout(r, 20))
    expect((await failure(readAll(res2.body))).name).to.equal('AbortError')
    const already = new AbortController()
    already.abort()
    expect((await failure(get(`${s.url}/body`, {signal: already.signal}))).name).to.equal('AbortError')
  })

  it('refuses a head over 64 KiB and a malformed status line or header, naming the host', async () => {
    const s = await serve(
      rawServer((socket, head) => {
        if (head.startsWith('GET /huge')) socket.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`)
        else if (head.startsWith('GET /status')) socket.write('HTTP/1.1 OK\r\n\r\n')
        else socket.write('HTTP/1.1 200 OK\r\nbad header\r\ncontent-length: 0\r\n\r\n')
      }),
    )
    const host = new URL(s.url).host
    const huge = await failure(get(`${s.url}/huge`))
    expect(huge).to.be.instanceOf(TransportError)
    expect(huge.message).to.equal(`${host} sent an answer head over 64 KiB: not a valid HTTP/1.1 answer`)
    expect((await failure(get(`${s.url}/status`))).message).to.equal(
      `${host} sent a malformed status line "HTTP/1.1 OK": not a valid HTTP/1.1 answer`,
    )
    expect((await failure(get(`${s.url}/header`))).message).to.equal(
      `${host} sent a malformed header line "bad header": not a valid HTTP/1.1 answer`,
    )
  })

  it('joins repeated headers as node:http does (set-cookie an array, cookie with "; ", some kept first only)', async () => {
    const names = ['content-type', 'location', 'etag', 'retry-after', 'cookie', 'set-cookie', 'www-authenticate', 'x-a', 'Content-Range']
    const s = await serve(
      rawServer((socket) => {
        const lines = names.map((n) => `${n}: one\r\n${n}:two  \r\n`).join('')
        socket.write(`HTTP/1.1 200 OK\r\n${lines}Content-Length: 0\r\n\r\n`)
      }),
    )
    const ours = (await get(s.url)).headers
    const nodes = await new Promise<http.IncomingHttpHeaders>((resolve, reject) =>
      http.get(s.url, {agent: false}, (res) => resolve(res.resume().headers)).on('error', reject),
    )
    expect(ours).to.deep.equal(nodes)
    expect(ours['set-cookie']).to.deep.equal(['one', 'two'])
  })

  it('fails a connection through `describe`, as raw.ts does', async () => {
    const s = await httpServer((_req, res) => res.end())
    const url = s.url
    await s.close()
    servers.length = 0
    const error = await failure(get(url, {describe: (e) => new Error(`described ${e.code}`)}))
    expect(error.message).to.equal('described ECONNREFUSED')
  })

  describe('over TLS', () => {
    let pki: Pki
    let s: Server
    const alpn: Array<string | false> = []
    const names: Array<string | false> = []
    // localhost resolved by the route's lookup: no DNS, and the name reaches SNI and the certificate check.
    const lookup = ((_host: string, options: {all?: boolean}, cb: (...a: unknown[]) => void) =>
      options.all ? cb(null, [{address: '127.0.0.1', family: 4}]) : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction

    before(async () => {
      pki = makePki()
      const server = https.createServer({key: readFileSync(pki.server.key), cert: readFileSync(pki.server.cert)}, (req, res) => {
        const socket = req.socket as TLSSocket
        alpn.push(socket.alpnProtocol ?? false)
        names.push((socket as TLSSocket & {servername?: string | false}).servername ?? false)
        res.writeHead(200, {'content-length': 6}).end('secure')
      })
      s = await listen(server, 'https')
    })
    after(() => s.close())

    it('trusts a private CA passed in tls.ca, sends SNI for a name, offers only http/1.1, reuses the connection, lends a body', async () => {
      const port = new URL(s.url).port
      const tls = {ca: [readFileSync(pki.ca, 'utf8')]}
      for (const lend of [false, true]) {
        const res = await get(`https://localhost:${port}/x`, {tls, lookup, lend})
        const pieces: Buffer[] = []
        for await (const piece of res.body as AsyncIterable<Buffer>) pieces.push(piece)
        expect(Buffer.concat(pieces).toString()).to.equal('secure')
        // TLS sockets read into arenas too: a lent body is a view of one.
        expect(pieces.every(inArena)).to.equal(lend)
      }
      expect(alpn).to.deep.equal(['http/1.1', 'http/1.1'])
      expect(names).to.deep.equal(['localhost', 'localhost'])
      expect(s.connections).to.equal(1)
    })

    it('refuses a certificate no CA it was given vouches for', async () => {
      const error = await failure(get(s.url, {tls: {ca: [readFileSync(pki.clientCa, 'utf8')]}}))
      expect(error.code).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    })
  })
})
