// Connections loads undici's dispatchers from their own files (not undici's index) and the proxy agents
// only for proxy routes: these tests fail if undici moves those files or they stop being its classes.
import {expect} from 'chai'
import {once} from 'node:events'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {HttpProxyAgent} from 'http-proxy-agent'
import {HttpsProxyAgent} from 'https-proxy-agent'
import {Agent, ProxyAgent} from 'undici'
import {Connections} from '../../../src/lib/net/connections.js'

describe('net/connections: one route per origin, on undici and node:http alike', () => {
  let server: http.Server
  let port: number
  before(async () => {
    server = http.createServer((req, res) => res.end(`answered ${req.url}`))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  after(() => server.close())

  it("a direct route's dispatcher is undici's Agent, and Node's fetch (what ky calls) goes through it", async () => {
    const url = new URL(`http://127.0.0.1:${port}/v2/`)
    const route = new Connections({env: {}, registryOrigin: url.origin}).route(url)
    expect(route.proxy).to.equal(undefined)
    expect(route.dispatcher).to.be.instanceOf(Agent)
    const res = await fetch(url, {dispatcher: route.dispatcher, headers: {connection: 'close'}} as unknown as RequestInit)
    expect(await res.text()).to.equal('answered /v2/')
  })

  it("a proxy route's dispatcher is undici's ProxyAgent, its node:http agent the proxy agent for the scheme", () => {
    const connections = new Connections({env: {HTTP_PROXY: 'http://proxy.test:3128', HTTPS_PROXY: 'http://proxy.test:3128'}})
    const plain = connections.route(new URL('http://hub.test/api'))
    expect(plain.proxy?.href).to.equal('http://proxy.test:3128/')
    expect(plain.dispatcher).to.be.instanceOf(ProxyAgent)
    expect(plain.agent).to.be.instanceOf(HttpProxyAgent)
    const secure = connections.route(new URL('https://hub.test/api'))
    expect(secure.dispatcher).to.be.instanceOf(ProxyAgent)
    expect(secure.agent).to.be.instanceOf(HttpsProxyAgent)
  })
})
