// How modelcar connects to each origin: direct or through the environment's
// proxy (net/proxy.ts), and with which TLS trust (net/trust.ts for the
// registry; --tls-verify=false for the registry only, never for the Hub).
// Each origin gets one node:http agent (streamed bodies) and one undici
// dispatcher (ky's fetch), built once with the same settings, so both HTTP
// stacks take the same route.
import http from 'node:http'
import https from 'node:https'
import {createRequire} from 'node:module'
import type {LookupFunction} from 'node:net'
import type {Agent, Dispatcher} from 'undici'
import {SocketPool} from '../http/socket-get.js'
import {guardedLookup} from './forbidden-addresses.js'
import {proxyFor, proxySettings, redactUserinfo, type ProxySettings} from './proxy.js'
import {registryTrust, type TlsTrust} from './trust.js'

// Sockets buffer up to 256 KiB each way (Node 20's default is 16 KiB): the
// Hub body arrives in fewer, larger pieces and PATCH writes drain less often
// (with 1 MiB a 512 MiB download alone took 1.11 -> 0.80 CPU-s, but peak RSS
// at --workers 4 rose past 150 MiB; 256 KiB keeps it near 143 MiB).
const SOCKET_BUFFERS = {readableHighWaterMark: 256 << 10, writableHighWaterMark: 256 << 10}
/**
 * A streamed GET's body read ahead of its consumer (http/socket-get.ts): one
 * read of 128 KiB. The kernel's socket buffer holds the rest; with four reads
 * of 64 KiB (256 KiB) every segment connection kept 128 KiB more of the push's
 * arenas.
 */
const STREAMED_READ_AHEAD = 128 << 10
const POOL = {keepAlive: true, maxSockets: 32}

// A direct route's dispatcher is undici's Agent from its own file: undici's index also loads its fetch,
// WebSocket, cache and mock code (110 modules, ~20 ms and ~2 MiB at every start) that a direct route
// never uses, since Node's fetch (what ky calls) only calls dispatch(). A proxy route takes the whole
// index: its ProxyAgent tunnels with the request methods the index adds to every dispatcher. undici
// has no exports map, so the file is reachable; test/lib/net/connections.test.ts fails if it moves.
// The proxy agents for node:http load with the first proxy route. All are CommonJS, so they load
// synchronously, as routes are built.
const require = createRequire(import.meta.url)
const UndiciAgent = require('undici/lib/dispatcher/agent.js') as typeof Agent
const proxyAgents = () => ({
  ProxyAgent: (require('undici') as typeof import('undici')).ProxyAgent,
  HttpProxyAgent: (require('http-proxy-agent') as typeof import('http-proxy-agent')).HttpProxyAgent,
  HttpsProxyAgent: (require('https-proxy-agent') as typeof import('https-proxy-agent')).HttpsProxyAgent,
})

export interface Route {
  /** The proxy this origin goes through, or undefined for direct. */
  proxy?: URL
  agent: http.Agent
  dispatcher: Dispatcher
  /** TLS settings for each node:http request (a proxy agent does not pass its own on to the tunnelled connection). */
  tls: TlsOptions
  /** Direct routes only: idle connections for streamed GETs (http/socket-get.ts), and how their host names resolve. */
  direct?: {sockets: SocketPool; lookup?: LookupFunction; highWaterMark: number}
}

interface TlsOptions {
  ca?: string[]
  cert?: Buffer
  key?: Buffer
  rejectUnauthorized?: boolean
}

export interface ConnectionOptions {
  env?: NodeJS.ProcessEnv
  /** The registry's origin (scheme://host[:port]): certs.d trust and tlsVerify apply to it alone. */
  registryOrigin?: string
  /** false: accept any certificate from the registry (a self-signed one). */
  tlsVerify?: boolean
  /** How direct connections resolve host names (node:dns by default; a test names its own). */
  resolve?: Parameters<typeof guardedLookup>[0]
}

export class Connections {
  private readonly proxies: ProxySettings
  private readonly routes = new Map<string, Route>()
  private readonly env: NodeJS.ProcessEnv

  constructor(private readonly opts: ConnectionOptions = {}) {
    this.env = opts.env ?? process.env
    this.proxies = proxySettings(this.env)
  }

  /** The route for `url`'s origin, built on first use. */
  route(url: URL): Route {
    let route = this.routes.get(url.origin)
    if (!route) {
      route = this.build(url)
      this.routes.set(url.origin, route)
    }
    return route
  }

  /** `direct`, or the proxy with its credentials hidden: for --verbose and messages. */
  describe(url: URL): string {
    const proxy = proxyFor(url, this.proxies)
    return proxy ? `through proxy ${redactUserinfo(proxy.href).replace(/\/$/, '')}` : 'direct'
  }

  private build(url: URL): Route {
    const secure = url.protocol === 'https:'
    const isRegistry = this.opts.registryOrigin !== undefined && url.origin === this.opts.registryOrigin
    const trust: TlsTrust = isRegistry && secure ? registryTrust(url.host, this.env) : {sources: []}
    const tls: TlsOptions = {
      ...(trust.ca ? {ca: trust.ca} : {}),
      ...(trust.cert ? {cert: trust.cert, key: trust.key} : {}),
      ...(isRegistry && this.opts.tlsVerify === false ? {rejectUnauthorized: false} : {}),
    }
    const proxy = proxyFor(url, this.proxies)
    if (!proxy) {
      // Hosts other than the registry the user named (the Hub, its CDN, token
      // realms, storage hosts) never connect to a link-local or metadata address.
      const lookup = isRegistry ? undefined : guardedLookup(this.opts.resolve)
      const agent = secure
        ? new https.Agent({...POOL, ...SOCKET_BUFFERS, ...tls, lookup})
        : new http.Agent({...POOL, ...SOCKET_BUFFERS, lookup})
      const direct = {sockets: new SocketPool(), lookup, highWaterMark: STREAMED_READ_AHEAD}
      return {agent, dispatcher: new UndiciAgent({connect: {...tls, lookup}}), tls, direct}
    }
    const {HttpProxyAgent, HttpsProxyAgent, ProxyAgent} = proxyAgents()
    const agent = secure
      ? new HttpsProxyAgent(proxy, {...POOL, ...SOCKET_BUFFERS, ...tls})
      : new HttpProxyAgent(proxy, {...POOL, ...SOCKET_BUFFERS})
    // proxyTunnel false: plain-HTTP origins go in absolute form, as curl does; HTTPS always through CONNECT.
    return {proxy, agent: agent, dispatcher: new ProxyAgent({uri: proxy.href, proxyTunnel: false, requestTls: tls}), tls}
  }
}
