// One request path per origin (the Hub, a registry, a token realm). Every
// request passes the same layers, control plane and data path alike:
// credentials for the origin only (http/redirect.ts decides per hop), the
// origin's 401 challenge answered once, redirects followed by hand under one
// set of rules, an idle timeout, network failures mapped to TransportError,
// and answers outside `accept` turned into errors by the origin's classifier
// (status and error codes, never message text). Small bodies go through ky;
// streamed bodies through node:http (http/raw.ts), or for downloads on
// direct routes our own reader (http/socket-get.ts): Node 20's fetch would
// buffer them. All use the same hop logic below.
import ky, {type Options as KyOptions} from 'ky'
import {Connections, type Route} from '../net/connections.js'
import {certificateIssuer, connectionError, demandsClientCertificate, proxyRefusal, type Peer} from './connect-errors.js'
import {readPrefix} from './body.js'
import {header, rawRequest, streamingRequest, TransportError, type RawRequest, type RawResponse, type StreamingRequest} from './raw.js'
import {socketGet} from './socket-get.js'
import {RedirectChain, REDIRECT_STATUSES} from './redirect.js'
import {defaultRetryPolicy, isRetryable, RetryableError, withRetries, type RetryPolicy} from './retry.js'

/** Credentials for one origin. */
export interface Authenticator {
  /** The Authorization value for a request to the origin, if any. */
  authorization(url: URL, scopes: readonly string[]): Promise<string | undefined>
  /** The origin answered 401: learn its challenge, so the next authorization() answers it. Throws when nothing can help. */
  challenged?(wwwAuthenticate: string | undefined, scopes: readonly string[]): void
  /** Refused even after a fresh challenge. */
  refused?(status: number): Error
}

/** An answer that was not accepted, for the origin's classifier. */
export interface FailedAnswer {
  status: number
  header(name: string): string | undefined
  /** The start of the body (error documents). */
  body: string
  url: URL
  /** The answer came from another origin than the transport's (a CDN, a storage host). */
  offOrigin: boolean
}

export interface RequestOptions {
  /** Names the request in messages, e.g. `HEAD 1a2b3c4d5e6f`. */
  what: string
  /** What the request does, for the classifier (e.g. 'patch', 'manifest'). */
  op?: string
  /** Anything else the classifier needs (e.g. the Hub repo and path). */
  context?: unknown
  /** Final statuses returned to the caller; others become errors. Default [200]. */
  accept?: readonly number[]
  headers?: Record<string, string>
  scopes?: readonly string[]
  signal?: AbortSignal
}

export interface TransportOptions {
  /** Where credentials may go. */
  origin: string
  /** How messages name the other end (`the registry`, `the Hub`) and what to check when it cannot be reached. */
  peer: Peer
  auth?: Authenticator
  classify: (answer: FailedAnswer, request: RequestOptions) => Error
  retry?: RetryPolicy
  /** No byte moving for this long fails the request (retried as transient). */
  idleTimeoutMs?: number
  onRetry?: (what: string, error: unknown, attempt: number) => void
  /** Proxies and TLS trust; by default the environment's. */
  connections?: Connections
  /** Told once per origin how it is reached (`direct`, `through proxy …`), for --verbose. */
  onRoute?: (origin: string, how: string) => void
}

/** The settings a client passes on to its transports, whatever the origin. */
export type TransportSettings = Pick<TransportOptions, 'retry' | 'idleTimeoutMs' | 'onRetry' | 'connections' | 'onRoute'>

/** The common face of a fetch Response and a node:http answer, for the hop loop. */
interface Exchange<R> {
  send(url: URL, headers: Record<string, string>): Promise<R>
  status(res: R): number
  header(res: R, name: string): string | undefined
  discard(res: R): Promise<void>
}

export class Transport {
  readonly origin: string
  readonly peer: Peer
  private readonly connections: Connections
  /** Origins that have answered at least once: a refused connection to one of them is transient. */
  private readonly contacted = new Set<string>()
  private readonly announced = new Set<string>()

  constructor(private readonly opts: TransportOptions) {
    this.origin = new URL(opts.origin).origin
    this.peer = opts.peer
    this.connections = opts.connections ?? new Connections()
  }

  get idleTimeoutMs(): number {
    return this.opts.idleTimeoutMs ?? 60_000
  }

  get retryPolicy(): RetryPolicy {
    return this.opts.retry ?? defaultRetryPolicy
  }

  /**
   * A request with a small (or no) body through ky; the answer's body is the
   * caller's to read (with http/body.ts). Transient failures are retried
   * unless `retries` is false.
   */
  request(method: string, url: URL, o: RequestOptions & {body?: Uint8Array | URLSearchParams; retries?: boolean}): Promise<Response> {
    const exchange: Exchange<Response> = {
      send: async (target, headers) => {
        const route = this.route(target)
        try {
          // ky hands options it does not know (the undici dispatcher) on to fetch.
          const options = {
            method,
            headers,
            body: o.body,
            throwHttpErrors: false,
            retry: 0,
            redirect: 'manual',
            timeout: this.idleTimeoutMs,
            signal: o.signal,
            dispatcher: route.dispatcher,
          } as unknown as KyOptions
          return this.answered(target, await ky(target, options))
        } catch (error) {
          if (o.signal?.aborted) throw error
          throw await this.explain(error, target, route)
        }
      },
      status: (res) => res.status,
      header: (res, name) => res.headers.get(name) ?? undefined,
      discard: async (res) => {
        await res.body?.cancel().catch(() => undefined)
      },
    }
    const attempt = async () => {
      const {res, url: answered} = await this.follow(url, o, exchange)
      if ((o.accept ?? [200]).includes(res.status)) return res
      const body = method === 'HEAD' ? '' : await readPrefix(res).catch(() => '')
      throw this.opts.classify(
        {
          status: res.status,
          header: (name) => res.headers.get(name) ?? undefined,
          body,
          url: answered,
          offOrigin: answered.origin !== this.origin,
        },
        o,
      )
    }
    if (o.retries === false) return attempt()
    return this.withRetries(attempt, o)
  }

  /**
   * A GET or HEAD whose answer body streams (blobs, Hub files): through
   * http/socket-get.ts on direct routes, node:http through a proxy. Accepted answers are returned; redirects are followed; others
   * become errors. No retries here: a streamed read resumes with Range, which
   * only its caller knows how to do. `lend`: the accepted body's pieces may
   * be lent (socket-get), to be given back (http/read-arenas.ts) once used.
   */
  async open(url: URL, o: RequestOptions & {method?: string; lend?: boolean}): Promise<{res: RawResponse; url: URL}> {
    const exchange: Exchange<RawResponse> = {
      send: async (target, headers) => {
        const route = this.route(target)
        try {
          const req: RawRequest = {
            method: o.method ?? 'GET',
            headers,
            signal: o.signal,
            idleTimeoutMs: this.idleTimeoutMs,
            tls: route.tls,
            describe: (error) => this.describe(error, target, route),
          }
          // Direct: our own reader, whose body pieces are the socket's chunks (node:http copies each one).
          const {direct} = route
          const res = direct
            ? await socketGet(target, {
                ...req,
                pool: direct.sockets,
                lookup: direct.lookup,
                highWaterMark: direct.highWaterMark,
                lend: o.lend,
              })
            : await rawRequest(target, {...req, agent: route.agent})
          return this.answered(target, res)
        } catch (error) {
          throw error instanceof TransportError ? await this.explain(error, target, route) : error
        }
      },
      status: (res) => res.status,
      header: (res, name) => header(res.headers, name),
      discard: async (res) => {
        res.body.resume()
      },
    }
    const {res, url: answered} = await this.follow(url, o, exchange)
    if ((o.accept ?? [200]).includes(res.status)) return {res, url: answered}
    throw await this.failure(res, o)
  }

  /**
   * A request whose body is streamed piece by piece (PATCH, PUT of blob
   * bytes). Never redirected (a streamed body cannot be replayed); the
   * credentials are the origin's.
   */
  async upload(
    method: string,
    url: URL,
    o: {headers: Record<string, string>; contentLength: number; scopes?: readonly string[]; signal?: AbortSignal},
  ): Promise<StreamingRequest> {
    const headers = {...o.headers}
    if (url.origin === this.origin) {
      const authorization = await this.opts.auth?.authorization(url, o.scopes ?? [])
      if (authorization) headers.authorization = authorization
    }
    const route = this.route(url)
    return streamingRequest(url, {
      method,
      headers,
      contentLength: o.contentLength,
      signal: o.signal,
      idleTimeoutMs: this.idleTimeoutMs,
      agent: route.agent,
      tls: route.tls,
      describe: (error) => this.describe(error, url, route),
    })
  }

  /**
   * An unaccepted node:http answer as an error. A 401 from the origin
   * teaches the authenticator the challenge and is retryable (the next
   * attempt carries fresh credentials).
   */
  async failure(res: RawResponse, o: RequestOptions): Promise<Error> {
    const body = await readPrefix(res.body).catch(() => '')
    if (res.status === 401 && res.url.origin === this.origin && this.opts.auth?.challenged) {
      this.opts.auth.challenged(header(res.headers, 'www-authenticate'), o.scopes ?? [])
      return new RetryableError(`${o.what}: token expired or refused (401)`, undefined, {status: 401})
    }
    return this.opts.classify(
      {status: res.status, header: (name) => header(res.headers, name), body, url: res.url, offOrigin: res.url.origin !== this.origin},
      o,
    )
  }

  /** Run `attempt` under this origin's retry policy. */
  withRetries<T>(attempt: () => Promise<T>, o: {what: string; signal?: AbortSignal}, policy = this.retryPolicy): Promise<T> {
    return withRetries(attempt, {policy, isRetryable, signal: o.signal, onRetry: (error, n) => this.opts.onRetry?.(o.what, error, n)})
  }

  /** How `url` is reached; said once per origin to onRoute. */
  private route(url: URL): Route {
    if (!this.announced.has(url.origin)) {
      this.announced.add(url.origin)
      this.opts.onRoute?.(url.origin, this.connections.describe(url))
    }
    return this.connections.route(url)
  }

  /** An answer arrived: the origin exists. A proxy's 407 is the proxy's, not the origin's. */
  private answered<R extends {status: number}>(url: URL, res: R): R {
    const proxy = this.connections.route(url).proxy
    if (res.status === 407 && proxy) throw proxyRefusal(407, url, proxy)
    this.contacted.add(url.origin)
    return res
  }

  private describe(error: unknown, url: URL, route: Route): TransportError {
    return connectionError(error, url, this.peer, {firstContact: !this.contacted.has(url.origin), proxy: route.proxy})
  }

  /**
   * describe(), with what a second look at a direct TLS peer can add: who
   * issued a certificate we do not trust, or that a reset on first contact
   * was the server demanding a client certificate.
   */
  private async explain(error: unknown, url: URL, route: Route): Promise<TransportError> {
    const described = error instanceof TransportError ? error : this.describe(error, url, route)
    if (route.proxy || url.protocol !== 'https:') return described
    const code = (described.cause as NodeJS.ErrnoException | undefined)?.code ?? rootCode(described.cause)
    if ((code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') && !this.contacted.has(url.origin)) {
      const alert = await demandsClientCertificate(url)
      if (alert) return connectionError(Object.assign(new Error(alert), {code: alert}), url, this.peer, {firstContact: true})
      return described
    }
    if (!/ is not trusted \(/.test(described.message)) return described
    const issuer = await certificateIssuer(url)
    if (!issuer) return described
    return new TransportError(
      described.message.replace(/ is not trusted \(([^)]*)\)/, ` is not trusted ($1, issued by "${issuer}")`),
      described.host,
      {
        cause: described.cause,
        permanent: described.permanent,
      },
    )
  }

  /** The hop loop both HTTP stacks share: credentials, one answered challenge, redirects. */
  private async follow<R>(start: URL, o: RequestOptions, exchange: Exchange<R>): Promise<{res: R; url: URL}> {
    const chain = new RedirectChain(start, this.origin, o.what, this.peer.name)
    const auth = this.opts.auth
    const scopes = o.scopes ?? []
    let challenged = false
    for (;;) {
      const url = chain.url
      const headers: Record<string, string> = {...o.headers}
      if (auth && chain.mayCarryCredentials) {
        const authorization = await auth.authorization(url, scopes)
        if (authorization) headers.authorization = authorization
      }
      const res = await exchange.send(url, headers)
      const status = exchange.status(res)
      const accepted = (o.accept ?? [200]).includes(status)
      if (status === 401 && !accepted && chain.mayCarryCredentials && auth?.challenged && !challenged) {
        await exchange.discard(res)
        challenged = true
        auth.challenged(exchange.header(res, 'www-authenticate'), scopes)
        continue
      }
      if ((status === 401 || (status === 403 && challenged)) && !accepted && chain.mayCarryCredentials && auth?.refused) {
        await exchange.discard(res)
        throw auth.refused(status)
      }
      if (REDIRECT_STATUSES.has(status) && !accepted) {
        await exchange.discard(res)
        chain.follow(exchange.header(res, 'location'))
        continue
      }
      return {res, url}
    }
  }
}

function rootCode(error: unknown): string | undefined {
  let e = error as {code?: string; cause?: unknown} | undefined
  while (e && !e.code && e.cause) e = e.cause
  return e?.code
}
