// Registry authentication: learns the challenge from a 401, answers Basic
// directly, and fetches/caches Bearer tokens per scope from the token realm.
// Credentials go only to the registry's origin and its token realm; the realm
// is reached through a transport of its own, under the same wire rules.
import {ModelcarError, UsageError} from '../errors.js'
import {LIMITS, readCapped} from '../http/body.js'
import {Transport, type TransportSettings} from '../http/transport.js'
import {checkRealmAddress} from './realm-guard.js'
import {parseWwwAuthenticate, type Challenge} from './challenge.js'
import type {RegistryCredential} from './credentials.js'
import type {RegistryEndpoint} from './reference.js'

interface CachedToken {
  token: string
  /** Refresh at this time (ms since epoch), a margin before the real expiry. */
  refreshAt: number
}

export class RegistryAuth {
  private challenge: Challenge | undefined
  private readonly tokens = new Map<string, CachedToken>()
  private readonly pending = new Map<string, Promise<CachedToken>>()
  /** How many tokens were fetched (the unit tests check the cache with it). */
  tokensFetched = 0

  constructor(
    readonly endpoint: RegistryEndpoint,
    private readonly credential: RegistryCredential | undefined,
    /** The registry's connection settings (proxy, timeouts), shared by its token realm. */
    private readonly settings: TransportSettings = {},
  ) {}

  /** The Authorization value to send to `url` for `scopes`, if any. */
  async authorization(url: URL, scopes: readonly string[]): Promise<string | undefined> {
    if (url.origin !== new URL(this.endpoint.baseUrl).origin || !this.challenge) return undefined
    if (this.challenge.scheme === 'basic') return this.basicValue()
    if (this.challenge.scheme === 'bearer') {
      const key = scopes.join(' ')
      const cached = this.tokens.get(key)
      if (cached && Date.now() < cached.refreshAt) return `Bearer ${cached.token}`
      return `Bearer ${(await this.fetchToken(scopes)).token}`
    }
    return undefined
  }

  /**
   * A request got 401: remember the challenge and drop the cached token so the
   * next authorization() fetches a fresh one. Throws when no retry can help.
   */
  challenged(wwwAuthenticate: string | null | undefined, scopes: readonly string[]): void {
    const challenges = parseWwwAuthenticate(wwwAuthenticate)
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
    this.tokens.delete(scopes.join(' '))
    if (!challenge) {
      throw new ModelcarError(`Registry ${this.endpoint.host} answered 401 without a Basic or Bearer challenge modelcar can answer.`, {
        code: 'E_REGISTRY_AUTH',
      })
    }
    this.challenge = challenge
    if (challenge.scheme === 'basic' && this.credential?.kind !== 'basic') throw this.needCredentials()
  }

  /** A request was refused again right after a fresh challenge/token. */
  refused(status: number): Error {
    if (!this.credential) return this.needCredentials()
    return new UsageError(
      `Registry ${this.endpoint.host} refused the credentials from ${this.credential.source} (HTTP ${status}): check they may push to this repository.`,
      'E_REGISTRY_AUTH',
    )
  }

  private basicValue(): string {
    if (!this.credential || this.credential.kind !== 'basic') throw this.needCredentials()
    return basicValue(this.credential.username, this.credential.password)
  }

  needCredentials(): Error {
    return new UsageError(
      `Registry ${this.endpoint.host} requires credentials: set OCI_USERNAME and OCI_PASSWORD, or run \`docker login ${this.endpoint.host}\`.`,
      'E_REGISTRY_AUTH',
    )
  }

  private fetchToken(scopes: readonly string[]): Promise<CachedToken> {
    const key = scopes.join(' ')
    let pending = this.pending.get(key)
    if (!pending) {
      pending = this.requestToken(scopes).finally(() => this.pending.delete(key))
      this.pending.set(key, pending)
    }
    return pending
  }

  private async requestToken(scopes: readonly string[]): Promise<CachedToken> {
    const params = this.challenge!.params
    if (!params.realm)
      throw new ModelcarError(`Registry ${this.endpoint.host} asked for a bearer token without naming a realm.`, {code: 'E_REGISTRY_AUTH'})
    let realm: URL
    try {
      realm = new URL(params.realm, this.endpoint.baseUrl)
    } catch {
      throw new ModelcarError(`Registry ${this.endpoint.host} named an invalid token realm.`, {code: 'E_REGISTRY_AUTH'})
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new ModelcarError(`Registry ${this.endpoint.host} named a token realm that is not an http(s) URL; refusing.`, {
        code: 'E_REGISTRY_AUTH',
      })
    }
    if (this.endpoint.scheme === 'https' && realm.protocol !== 'https:') {
      throw new ModelcarError(
        `Registry ${this.endpoint.host} sent a token realm over plain HTTP (${realm.host}); refusing to send credentials there.`,
        {code: 'E_REGISTRY_AUTH'},
      )
    }
    // A registry names its token realm; it must not steer our credentials to
    // a cloud metadata service. Decided on the address the name resolves to.
    await checkRealmAddress(realm, this.endpoint.host)
    const started = Date.now()
    const cred = this.credential
    const realmTransport = new Transport({
      connections: this.settings.connections,
      onRoute: this.settings.onRoute,
      origin: realm.origin,
      peer: {name: `the token service of ${this.endpoint.host}`},
      auth: cred?.kind === 'basic' ? {authorization: async () => basicValue(cred.username, cred.password)} : undefined,
      classify: (answer) =>
        answer.status === 401 || answer.status === 403
          ? new UsageError(
              `Registry ${this.endpoint.host} refused the credentials from ${cred?.source ?? 'nowhere (anonymous)'} (HTTP ${answer.status} from its token service): check OCI_USERNAME/OCI_PASSWORD or \`docker login ${this.endpoint.host}\`.`,
              'E_REGISTRY_AUTH',
            )
          : new ModelcarError(`The token service of ${this.endpoint.host} answered HTTP ${answer.status}.`, {code: 'E_REGISTRY_AUTH'}),
      retry: {maxRetries: 3, baseDelayMs: 500, maxDelayMs: 5000},
      idleTimeoutMs: 30_000,
    })
    const what = 'token request'
    let res: Response
    if (cred?.kind === 'identity-token') {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.token,
        client_id: 'modelcar',
        ...(params.service ? {service: params.service} : {}),
        scope: scopes.join(' '),
      })
      res = await realmTransport.request('POST', realm, {what, body: form})
    } else {
      const url = new URL(realm)
      if (params.service) url.searchParams.set('service', params.service)
      for (const scope of scopes) url.searchParams.append('scope', scope)
      res = await realmTransport.request('GET', url, {what})
    }
    const text = (await readCapped(res, LIMITS.json, what, realmTransport.peer.name)).toString('utf8')
    let body: {token?: string; access_token?: string; expires_in?: number; issued_at?: string}
    try {
      body = JSON.parse(text) as typeof body
    } catch {
      throw new ModelcarError(`The token service of ${this.endpoint.host} sent malformed JSON.`, {code: 'E_REGISTRY_AUTH'})
    }
    const token = body.token || body.access_token
    if (typeof token !== 'string' || token.length === 0)
      throw new ModelcarError(`The token service of ${this.endpoint.host} sent no token.`, {code: 'E_REGISTRY_AUTH'})
    this.tokensFetched++
    // The token spec's default and floor is 60 s. Refresh a margin early so a
    // long chunk doesn't start with a token that dies mid-flight; a 401 still
    // triggers a refresh if the clock or the server disagrees.
    const ttlMs = Math.max(60, Number(body.expires_in) || 60) * 1000
    const margin = Math.min(30_000, ttlMs / 5)
    const cached = {token, refreshAt: started + ttlMs - margin}
    this.tokens.set(scopes.join(' '), cached)
    return cached
  }
}

function basicValue(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
}
