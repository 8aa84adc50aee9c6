// A failed connection as one line that says what to do, the same whichever
// HTTP stack saw it (node:http errors carry the code themselves; fetch wraps
// them in `cause`). Misconfigurations (nothing listening on first contact, an
// unknown host, plain HTTP where HTTPS was asked, an untrusted, expired or
// misnamed certificate, a proxy's refusal) are permanent: retries are for
// transient faults only.
import tls from 'node:tls'
import {TransportError} from './raw.js'
import {redactUserinfo} from '../net/proxy.js'

/** Who is at the other end, for messages, and how its address is fixed. */
export interface Peer {
  /** `the registry`, `the Hub`, `the token service of …`. */
  name: string
  /** What to check when it cannot be reached, e.g. `check HF_ENDPOINT and the network`. */
  hint?: string
  /** The fix when nothing listens there, e.g. `is the registry running and the port right?`. */
  refusedFix?: string
  /** The fix when `host` speaks plain HTTP, e.g. `use --registry http://HOST`. */
  plainHttpFix?: (host: string) => string
  /** The certs.d folder for `host` (CAs, client certificates), for origins that have one. */
  certsDir?: (host: string) => string
  /** The flag that skips certificate checks for this peer, if it has one. */
  insecureFlag?: string
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
])

export interface FailureContext {
  /** Nothing has been heard from this origin yet: a refused connection means a wrong address, not a restart. */
  firstContact: boolean
  proxy?: URL
}

/** The cause an HTTP stack reports, unwrapped from fetch's `TypeError: fetch failed`. */
export function rootCause(error: unknown): NodeJS.ErrnoException {
  let e = error as NodeJS.ErrnoException & {cause?: unknown}
  while (e?.cause && typeof e.cause === 'object' && !(e as {code?: string}).code) e = e.cause as typeof e
  return e
}

export function connectionError(error: unknown, url: URL, peer: Peer, ctx: FailureContext): TransportError {
  const cause = rootCause(error)
  const code = cause.code ?? ''
  const message = cause.message ?? String(cause)
  const host = url.host
  const fail = (text: string, permanent: boolean) => new TransportError(text, host, {cause: error, permanent})
  // undici says `Proxy response (N) !== 200 when HTTP Tunneling` or `Proxy Authentication Required (407)`.
  const proxyStatus =
    /^Proxy (?:response|Authentication Required) \((\d{3})\)/.exec(message)?.[1] ??
    (code === 'E_PROXY_CONNECT' ? String((cause as {status?: number}).status) : undefined)
  if (proxyStatus && ctx.proxy) return proxyRefusal(Number(proxyStatus), url, ctx.proxy)
  if (code === 'ECONNREFUSED' && ctx.proxy) {
    return fail(
      `nothing listens on the proxy ${proxyName(ctx.proxy)}; check HTTPS_PROXY/HTTP_PROXY, or add ${url.hostname} to NO_PROXY.`,
      true,
    )
  }
  if (code === 'ECONNREFUSED') {
    if (ctx.firstContact) return fail(`nothing listens on ${host}; ${peer.refusedFix ?? peer.hint ?? 'check the address'}`, true)
    return fail(`cannot reach ${peer.name} at ${host} (connection refused)`, false)
  }
  if (code === 'E_FORBIDDEN_ADDRESS') return fail(`refusing to connect to ${peer.name}: ${message}.`, true)
  if (code === 'ENOTFOUND') return fail(`cannot resolve the host name ${url.hostname}${peer.hint ? `: ${peer.hint}` : ''}`, true)
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(message)) {
    const fix = peer.plainHttpFix?.(host) ?? `use http://${host}`
    return fail(`${host} speaks plain HTTP, not HTTPS: ${fix}`, true)
  }
  if (UNTRUSTED.has(code)) {
    return fail(`the certificate of ${host} is not trusted (${code.toLowerCase().replaceAll('_', ' ')}): ${trustAdvice(host, peer)}`, true)
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return fail(
      `the certificate of ${host} ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'}: renew it on the server (or check this machine's clock).`,
      true,
    )
  }
  if (/CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)) {
    const where = peer.certsDir ? `put client.cert and client.key in ${peer.certsDir(host)}` : 'configure one'
    return fail(`${host} demands a client certificate it trusts (${code.toLowerCase().replaceAll('_', ' ')}): ${where}.`, true)
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = (cause as {cert?: {subjectaltname?: string}}).cert?.subjectaltname ?? /cert's altnames: (.+)$/.exec(message)?.[1]
    return fail(
      `the certificate of ${host} is not issued for ${url.hostname}${names ? ` (it names ${names})` : ''}: address it by a name its certificate lists.`,
      true,
    )
  }
  const reason = (
    {
      ECONNRESET: 'connection reset',
      UND_ERR_SOCKET: 'connection reset',
      EPIPE: 'connection reset',
      ETIMEDOUT: 'connection timed out',
      UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
      EAI_AGAIN: 'host name lookup failed for now',
    } as Record<string, string>
  )[code]
  if (reason) return fail(`${reason} talking to ${peer.name} at ${host}`, false)
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|SSL|TLS/i.test(message)) {
    return fail(`TLS error talking to ${peer.name} at ${host} (${[code, message].filter(Boolean).join(' ')})`, true)
  }
  return fail(`cannot reach ${peer.name} at ${host} (${code || message})${peer.hint ? `: ${peer.hint}` : ''}`, false)
}

/** The proxy said no: name it (without credentials), its answer, and the fix. */
export function proxyRefusal(status: number, url: URL, proxy: URL): TransportError {
  const fix =
    status === 407
      ? 'check the user and password in HTTPS_PROXY/HTTP_PROXY (http://USER:PASSWORD@HOST:PORT)'
      : `ask its administrator to allow ${url.host}, or add ${url.hostname} to NO_PROXY`
  const text = `the proxy ${proxyName(proxy)} refused the connection to ${url.host} (HTTP ${status}${status === 407 ? ' Proxy Authentication Required' : ''}): ${fix}.`
  return new TransportError(text, url.host, {permanent: true})
}

function proxyName(proxy: URL): string {
  return redactUserinfo(proxy.href).replace(/\/$/, '')
}

function trustAdvice(host: string, peer: Peer): string {
  const certsDir = peer.certsDir ? ` or to ${peer.certsDir(host)}ca.crt` : ''
  const insecure = peer.insecureFlag ? ` (or use ${peer.insecureFlag} for a self-signed test registry)` : ''
  return `add its CA to a PEM file named by NODE_EXTRA_CA_CERTS${certsDir}${insecure}`
}

/**
 * Whether the TLS server at `url` refuses a handshake without a client
 * certificate. Under TLS 1.3 that refusal comes after the handshake, often as
 * a bare reset; a TLS 1.2 handshake surfaces it as an alert.
 */
export async function demandsClientCertificate(url: URL, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const socket = tls.connect({host, port: Number(url.port || 443), maxVersion: 'TLSv1.2', rejectUnauthorized: false})
    const done = (code?: string) => {
      socket.destroy()
      resolve(code)
    }
    socket.setTimeout(timeoutMs, () => done())
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(/BAD_CERTIFICATE|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE/.test(error.code ?? '') ? error.code : undefined),
    )
    socket.once('secureConnect', () => socket.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'))
    socket.once('data', () => done())
  })
}

/** Who issued the certificate `url` presents, read without trusting it (for the untrusted-certificate message). */
export async function certificateIssuer(url: URL, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      servername: /^[\d.:]+$/.test(host) ? undefined : host,
      rejectUnauthorized: false,
    })
    const done = (value?: string) => {
      socket.destroy()
      resolve(value)
    }
    socket.setTimeout(timeoutMs, () => done())
    socket.once('error', () => done())
    socket.once('secureConnect', () => {
      const issuer = socket.getPeerCertificate()?.issuer as Record<string, string> | undefined
      done(issuer ? (issuer.CN ?? issuer.O ?? Object.values(issuer).join(', ')) : undefined)
    })
  })
}
