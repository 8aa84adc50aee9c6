// Every rule of the one request path, on both HTTP stacks: `request` (ky,
// small bodies) and `open` (node:http, streamed bodies), against real
// servers on 127.0.0.1 (two ports are two origins), one of them HTTPS.
import {readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {expect} from 'chai'
import {makePki} from '../../fixtures/pki.js'
import {BodyTooLargeError, readCapped} from '../../../src/lib/http/body.js'
import {TransportError} from '../../../src/lib/http/raw.js'
import {RedirectRefusedError} from '../../../src/lib/http/redirect.js'
import {Transport, type Authenticator} from '../../../src/lib/http/transport.js'

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

interface Seen {
  origin: string
  path: string
  authorization?: string
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(String((server.address() as AddressInfo).port))))
}

describe('http/transport', () => {
  const seen: Seen[] = []
  const handlers: Record<string, Handler> = {}
  let a: string // the credential's origin
  let b: string // another origin (a CDN, a storage host)
  let secure: string // the same server over TLS
  const servers: http.Server[] = []

  const serve = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({origin: name, path: req.url ?? '', authorization: req.headers.authorization})
    const handler = handlers[`${name} ${req.url}`]
    if (handler) return handler(req, res)
    res.writeHead(404).end()
  }

  before(async () => {
    const pki = makePki()
    const plainA = http.createServer(serve('a'))
    const plainB = http.createServer(serve('b'))
    const tls = https.createServer({key: readFileSync(pki.selfSigned.key), cert: readFileSync(pki.selfSigned.cert)}, serve('secure'))
    servers.push(plainA, plainB, tls)
    a = `http://127.0.0.1:${await listen(plainA)}`
    b = `http://127.0.0.1:${await listen(plainB)}`
    secure = `https://127.0.0.1:${await listen(tls)}`
    // The test's own self-signed server: trusted for this process only.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
  })
  after(async () => {
    delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
    for (const s of servers) await new Promise((r) => s.close(r))
  })
  beforeEach(() => {
    seen.length = 0
    for (const k of Object.keys(handlers)) delete handlers[k]
  })

  const redirect =
    (to: () => string, status = 302): Handler =>
    (_req, res) =>
      res.writeHead(status, {location: to()}).end()
  const ok =
    (body = 'ok'): Handler =>
    (_req, res) =>
      res.writeHead(200, {'content-type': 'text/plain'}).end(body)

  function transport(origin: string, auth?: Authenticator): Transport {
    return new Transport({
      origin,
      peer: {name: 'the test server', hint: 'check the test'},
      auth: auth ?? {authorization: async () => 'Bearer secret'},
      classify: (answer) => new Error(`classified HTTP ${answer.status}${answer.offOrigin ? ' off origin' : ''}`),
      retry: {maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2},
      idleTimeoutMs: 2000,
    })
  }

  /** The same GET through both stacks: its body as text. */
  const paths = {
    'JSON (ky)': async (t: Transport, url: string) => (await t.request('GET', new URL(url), {what: 'get x'})).text(),
    'streaming (node:http)': async (t: Transport, url: string) => {
      const {res} = await t.open(new URL(url), {what: 'get x'})
      const chunks: Buffer[] = []
      for await (const c of res.body) chunks.push(c as Buffer)
      return Buffer.concat(chunks).toString()
    },
  }

  for (const [name, get] of Object.entries(paths)) {
    describe(`${name} path`, () => {
      it('sends credentials to the origin and never to the origin a redirect leads to', async () => {
        handlers['a /x'] = redirect(() => `${b}/cdn`)
        handlers['b /cdn'] = ok('from cdn')
        expect(await get(transport(a), `${a}/x`)).to.equal('from cdn')
        expect(seen.map((s) => [s.origin, s.authorization])).to.deep.equal([
          ['a', 'Bearer secret'],
          ['b', undefined],
        ])
      })

      it('drops credentials for the rest of a chain that left the origin, even when it comes back (CDN bounce)', async () => {
        handlers['a /x'] = redirect(() => `${b}/bounce`)
        handlers['b /bounce'] = redirect(() => `${a}/back`)
        handlers['a /back'] = ok('back')
        expect(await get(transport(a), `${a}/x`)).to.equal('back')
        expect(seen.map((s) => [s.origin, s.authorization])).to.deep.equal([
          ['a', 'Bearer secret'],
          ['b', undefined],
          ['a', undefined],
        ])
      })

      it('resolves a relative Location against the URL that answered, not against the origin', async () => {
        handlers['a /x'] = redirect(() => `${b}/dir/first`)
        handlers['b /dir/first'] = redirect(() => 'second')
        handlers['b /dir/second'] = ok('second')
        expect(await get(transport(a), `${a}/x`)).to.equal('second')
        expect(seen.map((s) => `${s.origin} ${s.path}`)).to.deep.equal(['a /x', 'b /dir/first', 'b /dir/second'])
      })

      it('refuses a redirect from HTTPS to plain HTTP, before sending anything there', async () => {
        handlers['secure /x'] = redirect(() => `${a}/clear`)
        const error = await get(transport(secure), `${secure}/x`).catch((e) => e)
        expect(error).to.be.instanceOf(RedirectRefusedError)
        expect(error.message).to.match(/^get x: the test server redirected from HTTPS to plain HTTP \(127\.0\.0\.1:\d+\); refusing\.$/)
        expect(seen.map((s) => s.origin)).to.deep.equal(['secure'])
      })

      for (const target of ['file:///etc/passwd', 'data:text/plain,hi', 'ftp://127.0.0.1/x']) {
        it(`refuses a redirect to a non-HTTP URL (${target.split(':')[0]}:) with a one-line error`, async () => {
          handlers['a /x'] = redirect(() => target)
          const error = await get(transport(a), `${a}/x`).catch((e) => e)
          expect(error).to.be.instanceOf(RedirectRefusedError)
          expect(error.message).to.equal(
            `get x: the test server redirected to a ${target.split(':')[0]}: URL; only http and https are followed.`,
          )
        })
      }

      it('gives up after five redirects', async () => {
        handlers['a /loop'] = redirect(() => `${a}/loop`, 307)
        const error = await get(transport(a), `${a}/loop`).catch((e) => e)
        expect(error.message).to.equal('get x: too many redirects (more than 5).')
        expect(seen).to.have.length(6)
      })

      it('answers a 401 challenge once with fresh credentials, then asks the authenticator to refuse', async () => {
        let challenges = 0
        const auth: Authenticator = {
          authorization: async () => `Bearer token-${challenges}`,
          challenged: () => void challenges++,
          refused: (status) => new Error(`refused ${status}`),
        }
        handlers['a /x'] = (req, res) => (req.headers.authorization === 'Bearer token-1' ? ok('in')(req, res) : res.writeHead(401).end())
        expect(await get(transport(a, auth), `${a}/x`)).to.equal('in')
        expect(seen.map((s) => s.authorization)).to.deep.equal(['Bearer token-0', 'Bearer token-1'])
        handlers['a /never'] = (_req, res) => res.writeHead(401).end()
        const error = await get(transport(a, auth), `${a}/never`).catch((e) => e)
        expect(error.message).to.equal('refused 401')
        expect(challenges).to.equal(2)
      })

      it("hands an unaccepted answer to the origin's classifier, marking answers from other origins", async () => {
        handlers['a /gone'] = (_req, res) => res.writeHead(410).end('gone')
        handlers['a /away'] = redirect(() => `${b}/forbidden`)
        handlers['b /forbidden'] = (_req, res) => res.writeHead(403).end()
        expect((await get(transport(a), `${a}/gone`).catch((e) => e)).message).to.equal('classified HTTP 410')
        expect((await get(transport(a), `${a}/away`).catch((e) => e)).message).to.equal('classified HTTP 403 off origin')
      })

      it('fails at once, naming the fix, when nothing listens on first contact', async () => {
        const closed = http.createServer()
        const port = await listen(closed)
        await new Promise((r) => closed.close(r))
        let retries = 0
        const t = new Transport({
          origin: `http://127.0.0.1:${port}`,
          peer: {name: 'the test server', refusedFix: 'is it running?'},
          classify: () => new Error('unexpected'),
          retry: {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2},
          onRetry: () => void retries++,
        })
        const error = await get(t, `http://127.0.0.1:${port}/x`).catch((e) => e)
        expect(error).to.be.instanceOf(TransportError)
        expect(error.message).to.equal(`nothing listens on 127.0.0.1:${port}; is it running?`)
        expect(error.permanent).to.equal(true)
        expect(retries).to.equal(0)
      })

      it('takes a refused connection to an origin that has answered before for a passing fault', async () => {
        const server = http.createServer((_req, res) => res.writeHead(200, {connection: 'close'}).end('up'))
        const port = await listen(server)
        const t = transport(`http://127.0.0.1:${port}`)
        expect(await get(t, `http://127.0.0.1:${port}/x`)).to.equal('up')
        await new Promise((r) => {
          server.close(r)
          server.closeAllConnections()
        })
        const error = await get(t, `http://127.0.0.1:${port}/x`).catch((e) => e)
        expect(error).to.be.instanceOf(TransportError)
        expect(error.permanent).to.equal(false)
        expect(error.message).to.equal(`cannot reach the test server at 127.0.0.1:${port} (connection refused)`)
      })
    })
  }

  describe('JSON path', () => {
    it('retries transient answers under the policy', async () => {
      let n = 0
      handlers['a /flaky'] = (req, res) => (++n < 3 ? res.writeHead(503).end() : ok('fine')(req, res))
      const t = new Transport({
        origin: a,
        peer: {name: 'p'},
        retry: {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2},
        classify: (answer) => Object.assign(new (class extends TransportError {})('busy', 'h'), {status: answer.status}),
      })
      expect(await (await t.request('GET', new URL(`${a}/flaky`), {what: 'flaky'})).text()).to.equal('fine')
      expect(n).to.equal(3)
    })

    it('caps a body on the bytes read, with or without Content-Length', async () => {
      handlers['a /big'] = (_req, res) => {
        res.writeHead(200) // chunked: no Content-Length
        for (let i = 0; i < 64; i++) res.write(Buffer.alloc(1024, 120))
        res.end()
      }
      const res = await transport(a).request('GET', new URL(`${a}/big`), {what: 'big'})
      const error = await readCapped(res, 10_000, 'big', 'the test server').catch((e) => e)
      expect(error).to.be.instanceOf(BodyTooLargeError)
      expect(error.message).to.equal('big: the test server sent more than 10000 bytes, over the limit for this answer; refusing it.')
      const small = await transport(a).request('GET', new URL(`${a}/big`), {what: 'big'})
      expect((await readCapped(small, 1 << 20, 'big', 'x')).length).to.equal(64 * 1024)
    })
  })

  describe('upload path', () => {
    it("streams a body with the origin's credentials and follows no redirect", async () => {
      const received: Buffer[] = []
      handlers['a /up'] = (req, res) => {
        req.on('data', (c) => received.push(c))
        req.on('end', () => res.writeHead(307, {location: `${b}/elsewhere`}).end())
      }
      const req = await transport(a).upload('PUT', new URL(`${a}/up`), {headers: {}, contentLength: 6})
      await req.write(Buffer.from('abc'))
      await req.write(Buffer.from('def'))
      const res = await req.finish()
      res.body.resume()
      expect(res.status).to.equal(307)
      expect(Buffer.concat(received).toString()).to.equal('abcdef')
      expect(seen.map((s) => [s.origin, s.authorization])).to.deep.equal([['a', 'Bearer secret']])
    })

    it('sends no credentials when the upload URL is on another origin (a session moved to storage)', async () => {
      handlers['b /up'] = (req, res) => req.resume().on('end', () => res.writeHead(202).end())
      const req = await transport(a).upload('PATCH', new URL(`${b}/up`), {headers: {}, contentLength: 1})
      await req.write(Buffer.from('x'))
      ;(await req.finish()).body.resume()
      expect(seen.map((s) => [s.origin, s.authorization])).to.deep.equal([['b', undefined]])
    })
  })
})
