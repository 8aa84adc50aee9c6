// The rules every redirect hop obeys, for the Hub, its CDN, the registry and
// its storage alike: the next URL resolves against the URL that answered
// (RFC 9110 §10.2.2), only http and https are followed, HTTPS never steps down
// to plain HTTP, and a chain has a bounded number of hops. Credentials follow
// the Fetch standard: once a chain leaves the credential's origin they are
// dropped for the rest of it, even if it comes back (a CDN bounce).
import {ModelcarError} from '../errors.js'

export const MAX_REDIRECTS = 5

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** A redirect the rules refuse; `what` and `peer` make the message. */
export class RedirectRefusedError extends ModelcarError {
  constructor(message: string) {
    super(message, {code: 'E_REDIRECT_REFUSED'})
    this.name = 'RedirectRefusedError'
  }
}

/** The URL one hop leads to, or an error naming the rule it breaks. */
export function nextHop(from: URL, location: string | undefined, what: string, peer: string): URL {
  if (!location) throw new RedirectRefusedError(`${what}: ${peer} redirected without a Location.`)
  let next: URL
  try {
    next = new URL(location, from)
  } catch {
    throw new RedirectRefusedError(`${what}: ${peer} redirected to an invalid URL; refusing.`)
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new RedirectRefusedError(`${what}: ${peer} redirected to a ${next.protocol} URL; only http and https are followed.`)
  }
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw new RedirectRefusedError(`${what}: ${peer} redirected from HTTPS to plain HTTP (${next.host}); refusing.`)
  }
  return next
}

/** Follows one redirect chain and says, hop by hop, whether credentials may go along. */
export class RedirectChain {
  private hops = 0
  private leftOrigin = false

  constructor(
    public url: URL,
    /** The only origin credentials are sent to. */
    private readonly credentialOrigin: string,
    private readonly what: string,
    private readonly peer: string,
  ) {
    this.leftOrigin = url.origin !== credentialOrigin
  }

  /** Credentials go to the credential's origin, and only while the chain never left it. */
  get mayCarryCredentials(): boolean {
    return !this.leftOrigin && this.url.origin === this.credentialOrigin
  }

  follow(location: string | undefined): URL {
    if (++this.hops > MAX_REDIRECTS) throw new RedirectRefusedError(`${this.what}: too many redirects (more than ${MAX_REDIRECTS}).`)
    this.url = nextHop(this.url, location, this.what, this.peer)
    if (this.url.origin !== this.credentialOrigin) this.leftOrigin = true
    return this.url
  }
}
