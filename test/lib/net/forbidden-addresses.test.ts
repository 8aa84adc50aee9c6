// Connections to hosts a server named resolve through guardedLookup(): a name
// that resolves to a metadata address, now or on its next lookup (DNS
// rebinding), connects nowhere forbidden, on every HTTP stack.
import {expect} from 'chai'
import {once} from 'node:events'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {fetch as undiciFetch} from 'undici'
import {connectionError} from '../../../src/lib/http/connect-errors.js'
import {socketGet} from '../../../src/lib/http/socket-get.js'
import {Connections} from '../../../src/lib/net/connections.js'
import {guardedLookup} from '../../../src/lib/net/forbidden-addresses.js'

type Answer = Array<{address: string; family: number}>

/** A resolver that gives each answer in turn (the last one from then on), like a rebinding DNS server. */
function rebinding(...answers: Answer[]) {
  let n = 0
  const asked: string[] = []
  const resolve = (hostname: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: Answer) => void) => {
    asked.push(hostname)
    setImmediate(() => cb(null, answers[Math.min(n++, answers.length - 1)]))
  }
  return {resolve, asked}
}

const LOCAL = {address: '127.0.0.1', family: 4}
const METADATA = {address: '169.254.169.254', family: 4}

describe('net/forbidden-addresses: no connection to a metadata address, checked at connect time', () => {
  let server: http.Server
  let port: number
  before(async () => {
    server = http.createServer((_req, res) => res.end('ok'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  after(() => server.close())

  it('drops forbidden addresses from an answer, and fails a name that has nothing else', async () => {
    const lookup = (answer: Answer, all: boolean) =>
      new Promise<unknown>((resolve) => {
        guardedLookup(rebinding(answer).resolve)('h.example', {all}, (error: unknown, address: unknown, family?: unknown) =>
          resolve(error ?? (all ? address : [address, family])),
        )
      })
    expect(await lookup([METADATA, LOCAL], true)).to.deep.equal([LOCAL])
    expect(await lookup([METADATA, LOCAL], false)).to.deep.equal(['127.0.0.1', 4])
    const refused = (await lookup([{address: '::ffff:169.254.169.254', family: 6}], false)) as NodeJS.ErrnoException
    expect(refused.code).to.equal('E_FORBIDDEN_ADDRESS')
    expect(refused.message).to.equal('h.example resolves to a link-local or cloud metadata address (::ffff:169.254.169.254)')
  })

  it('a server-named host that rebinds to a metadata address between two connections: the second connects nowhere (node:http, undici, socket-get)', async () => {
    for (const stack of ['node:http', 'undici', 'socket-get'] as const) {
      const dns = rebinding([LOCAL], [METADATA])
      const connections = new Connections({env: {}, resolve: dns.resolve})
      const url = new URL(`http://realm.example:${port}/token`)
      const route = connections.route(url)
      const get = async () => {
        if (stack === 'undici') return (await undiciFetch(url, {dispatcher: route.dispatcher, headers: {connection: 'close'}})).text()
        if (stack === 'socket-get') {
          const direct = route.direct!
          const res = await socketGet(url, {method: 'GET', pool: direct.sockets, lookup: direct.lookup, headers: {connection: 'close'}})
          let body = ''
          for await (const d of res.body as AsyncIterable<Buffer>) body += d.toString()
          return body
        }
        return new Promise<string>((resolve, reject) => {
          const req = http.get(url, {agent: route.agent, headers: {connection: 'close'}}, (res) => {
            let body = ''
            res.on('data', (d) => (body += d))
            res.on('end', () => resolve(body))
          })
          req.on('error', reject)
        })
      }
      expect(await get(), stack).to.equal('ok')
      const error = await get().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, `${stack}: the rebound name must not connect`).to.be.instanceOf(Error)
      const mapped = connectionError(error, url, {name: 'the token service of reg.example'}, {firstContact: false})
      expect(mapped.message, stack).to.equal(
        'refusing to connect to the token service of reg.example: realm.example resolves to a link-local or cloud metadata address (169.254.169.254).',
      )
      expect(dns.asked.length, stack).to.equal(2)
    }
  })

  it("the registry the user named resolves as usual (its name is the user's choice, not a server's)", async () => {
    const dns = rebinding([METADATA])
    const url = new URL(`http://127.0.0.1:${port}/v2/`)
    const connections = new Connections({env: {}, registryOrigin: url.origin, resolve: dns.resolve})
    const res = await undiciFetch(url, {dispatcher: connections.route(url).dispatcher})
    expect(await res.text()).to.equal('ok')
    expect(dns.asked, 'an address literal needs no lookup').to.deep.equal([])
  })
})
