// Parsing and validation of everything a user types that names a registry, a
// repository, a tag or a digest. Every rejection is a UsageError whose
// one-line message names the flag, the problem and a fix.
//
// Grammars:
// - repository: OCI distribution spec
//   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   with 'host/name' at most 255 characters (the limit most clients apply).
// - tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
// - digest: sha256:<64 lowercase hex> or sha512:<128 lowercase hex>
// - image references follow docker's normalisation: a first path component
//   without '.' or ':' that is not 'localhost' (and is lowercase) is a
//   repository path on docker.io, and single names there get 'library/'.

import {isIP, isIPv4, isIPv6} from 'node:net'

import {quoteInput as q, UsageError} from '../errors.js'
import {DIGEST_RE} from './digest.js'
import {DOCKER_HUB, DOCKER_HUB_API_HOST, isDockerHub} from './docker-hub.js'

export interface RegistryEndpoint {
  /** host[:port], lowercase, no scheme; IPv6 in brackets, e.g. '[::1]:5000'. */
  host: string
  scheme: 'http' | 'https'
  /** `${scheme}://${host}` */
  baseUrl: string
}

/** A registry as the user named it: `display` is host[:port] as typed (lowercased), for printing; `host` is what API calls use. */
export type ParsedRegistry = RegistryEndpoint & {display: string}

export interface ImageReference {
  registry: ParsedRegistry
  repository: string
  tag?: string
  digest?: string
  /** oci:DIR[:tag|@digest]: the absolute path of an OCI image layout (registry and repository then only name it). */
  layout?: string
}

/** The reference as the user would type it again: registry/repo:tag@digest, or oci:DIR:tag / oci:DIR@digest. */
export function referenceText(ref: ImageReference): string {
  const name = ref.layout ? `oci:${ref.layout}` : `${ref.registry.display}/${ref.repository}`
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

const MAX_NAME_TOTAL = 255
const MAX_TAG = 128

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`)
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
const HOST_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

// ---------------------------------------------------------------------------
// Hosts

type HostResult = {ok: true; host: string; hostname: string} | {ok: false; reason: string; fix: string}

/** Validates and normalises 'host[:port]' (no scheme, no path). */
function parseHostPort(input: string): HostResult {
  if (input === '') return {ok: false, reason: 'the host is empty', fix: 'pass host[:port], e.g. "ghcr.io" or "localhost:5000"'}
  if (input.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::([^:]*))?$/.exec(input)
    const addr = m?.[1]?.toLowerCase() ?? ''
    if (!m || !isIPv6(addr)) {
      return {
        ok: false,
        reason: `${q(input)} is not a valid bracketed IPv6 address`,
        fix: 'write IPv6 addresses in brackets, e.g. "[::1]:5000"',
      }
    }
    const hostname = `[${addr}]`
    return withPort(hostname, m[2], input)
  }
  // A bare IPv6 address ('::1'): no port can be given without brackets.
  if (isIPv6(input)) {
    const hostname = `[${input.toLowerCase()}]`
    return {ok: true, host: hostname, hostname}
  }
  const colon = input.lastIndexOf(':')
  const name = (colon === -1 ? input : input.slice(0, colon)).toLowerCase()
  const port = colon === -1 ? undefined : input.slice(colon + 1)
  if (name.includes(':')) {
    return {ok: false, reason: `${q(input)} is not a valid host`, fix: 'write IPv6 addresses in brackets, e.g. "[::1]:5000"'}
  }
  if (!isIPv4(name) && !(name.length <= 253 && name.split('.').every((label) => HOST_LABEL_RE.test(label)))) {
    return {
      ok: false,
      reason: `${q(name)} is not a valid host name (letters, digits and inner hyphens, separated by dots)`,
      fix: 'check the spelling, e.g. "ghcr.io" or "localhost:5000"',
    }
  }
  return withPort(name, port, input)
}

function withPort(hostname: string, port: string | undefined, input: string): HostResult {
  if (port === undefined) return {ok: true, host: hostname, hostname}
  const n = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN
  if (!(n >= 1 && n <= 65_535)) {
    return {
      ok: false,
      reason: `port ${q(port)} in ${q(input)} is not a number from 1 to 65535`,
      fix: `use a valid port, e.g. "${hostname}:5000", or none`,
    }
  }
  return {ok: true, host: `${hostname}:${n}`, hostname}
}

/** True for localhost, 127.0.0.0/8 and ::1 (with or without port and brackets). */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end === -1) return false
    h = h.slice(1, end)
  } else if (!isIPv6(h)) {
    const colon = h.lastIndexOf(':')
    if (colon !== -1) h = h.slice(0, colon)
  }
  if (h.endsWith('.')) h = h.slice(0, -1)
  if (h === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) {
    // WHATWG URL compresses IPv6 canonically: 0:0:0:0:0:0:0:1 -> [::1],
    // ::ffff:127.0.0.1 -> [::ffff:7f00:1].
    try {
      const canonical = new URL(`http://[${h}]/`).hostname
      return canonical === '[::1]' || canonical.startsWith('[::ffff:7f')
    } catch {
      return false // e.g. a zone id: not something we treat as loopback
    }
  }
  return false
}

function endpoint(host: string, hostname: string, display: string, scheme: 'http' | 'https' | undefined): ParsedRegistry {
  const apiHost = isDockerHub(host) ? DOCKER_HUB_API_HOST : host
  const s = scheme ?? (isLoopbackHost(hostname) ? 'http' : 'https')
  return {host: apiHost, scheme: s, baseUrl: `${s}://${apiHost}`, display}
}

type SchemeSplit = {ok: true; scheme?: 'http' | 'https'; rest: string} | {ok: false; given: string; rest: string}

function splitScheme(input: string): SchemeSplit {
  const m = SCHEME_RE.exec(input)
  if (!m) return {ok: true, rest: input}
  const given = m[1].toLowerCase()
  const rest = input.slice(m[0].length)
  if (given === 'http' || given === 'https') return {ok: true, scheme: given, rest}
  return {ok: false, given, rest}
}

/** Hides user info ('user:pass@') so a password typed into a flag is never echoed. */
function redactUserinfo(input: string, at: number): string {
  const schemeEnd = SCHEME_RE.exec(input)?.[0].length ?? 0
  return `${input.slice(0, schemeEnd)}***${input.slice(at)}`
}

/**
 * --registry: 'host[:port]'; an explicit 'http://' or 'https://' prefix forces
 * the scheme, otherwise loopback hosts get http and everything else https. A
 * trailing '/' is tolerated, a path is an error. 'docker.io' maps to
 * 'registry-1.docker.io' for API calls; `display` keeps the user's spelling.
 */
export function parseRegistry(input: string, flag = '--registry'): ParsedRegistry {
  const raw = input.trim()
  const bad = (what: string, reason: string, fix: string) => new UsageError(`Invalid ${flag} ${q(what)}: ${reason}; ${fix}.`)
  // Any '@' means userinfo (a password may itself contain '/'): never echo it.
  const at = raw.lastIndexOf('@')
  if (at !== -1) {
    const rest = raw.slice(at + 1).replace(/\/+$/, '')
    throw bad(
      redactUserinfo(raw, at),
      'credentials do not belong in the registry address',
      `try ${q(rest)} and set OCI_USERNAME/OCI_PASSWORD or run "docker login" instead`,
    )
  }
  if (raw === '') throw bad(raw, 'the registry is empty', 'pass host[:port], e.g. "ghcr.io" or "localhost:5000"')
  const split = splitScheme(raw)
  if (!split.ok)
    throw bad(raw, `only http:// and https:// prefixes are supported, not ${split.given}://`, `try ${q(split.rest.replace(/\/+$/, ''))}`)
  const rest = split.rest.replace(/\/+$/, '')
  const slash = rest.indexOf('/')
  if (slash !== -1) {
    const hostPart = rest.slice(0, slash)
    const pathPart = rest.slice(slash + 1)
    throw bad(raw, 'the registry is host[:port] without a path', `try ${q(hostPart)} and put ${q(pathPart)} in the repository name`)
  }
  if (/[?#\s]/.test(rest)) throw bad(raw, 'the registry may not contain spaces, "?" or "#"', 'pass host[:port], e.g. "ghcr.io"')
  const result = registryEndpoint(rest, split.scheme)
  if ('reason' in result) throw bad(raw, result.reason, result.fix)
  return result
}

/**
 * host[:port] as an endpoint, or why not: the address a URL would connect to
 * must be the one named, since scheme, credentials and trust are chosen by
 * the name (URL reads 0x7f.1 as 127.0.0.1, and cannot carry a zone id).
 */
function registryEndpoint(hostPort: string, scheme: 'http' | 'https' | undefined): ParsedRegistry | {reason: string; fix: string} {
  if (hostPort.includes('%')) return {reason: 'IPv6 zone ids are not supported', fix: 'use the address without "%zone", or a host name'}
  const parsed = parseHostPort(hostPort)
  if (!parsed.ok) return parsed
  const result = endpoint(parsed.host, parsed.hostname, parsed.host, scheme)
  let url: URL
  try {
    url = new URL(result.baseUrl)
  } catch {
    // WHATWG URL refuses some names the hostname grammar allows (a numeric last label).
    return {reason: 'it is not a valid host name', fix: 'pass host[:port], e.g. "ghcr.io" or "localhost:5000"'}
  }
  const bare = (host: string) => host.replace(/^\[|\]$/g, '')
  if (isIP(bare(url.hostname)) !== 0 && isIP(bare(parsed.hostname)) === 0) {
    return {reason: `it names the address ${url.hostname}`, fix: `write that address as it is, e.g. ${q(url.host)}`}
  }
  return result
}

// ---------------------------------------------------------------------------
// Repository names

/** Best-effort conversion of an invalid name into a valid one, or undefined. */
function suggestRepository(name: string): string | undefined {
  const components = name
    .toLowerCase()
    .split('/')
    .map((c) =>
      c
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/[._-]+/g, (run) => (/^(?:\.|_|__|-+)$/.test(run) ? run : '-'))
        .replace(/^[._-]+|[._-]+$/g, ''),
    )
    .filter((c) => c !== '')
  const s = components.join('/')
  return s !== '' && s.length <= MAX_NAME_TOTAL && REPOSITORY_RE.test(s) ? s : undefined
}

/** The problem with a repository name as [reason, fix], or undefined when it is valid. */
function repositoryProblem(name: string, host?: string): [string, string] | undefined {
  if (name === '') return ['the repository name is empty', 'pass a name such as "myorg/mymodel"']
  const total = host === undefined ? name.length : host.length + 1 + name.length
  if (REPOSITORY_RE.test(name)) {
    if (total <= MAX_NAME_TOTAL) return undefined
    const what = host === undefined ? 'the name' : `${q(`${host}/…`)} plus the name`
    return [`${what} is ${total} characters, over the ${MAX_NAME_TOTAL}-character limit`, 'use a shorter repository name']
  }
  const suggestion = suggestRepository(name)
  const tryIt = (s: string | undefined) => (s === undefined ? 'use a name like "myorg/mymodel"' : `try ${q(s)}`)
  const firstSlash = name.indexOf('/')
  const first = firstSlash === -1 ? name : name.slice(0, firstSlash)
  if (firstSlash !== -1 && first.includes(':') && !first.includes('@')) {
    const rest = name.slice(firstSlash + 1)
    return [
      `the registry ${q(first)} does not belong in the repository name`,
      `pass it as --registry and ${tryIt(suggestRepository(rest))}`,
    ]
  }
  const atIdx = name.indexOf('@')
  const lastSlash = name.lastIndexOf('/')
  const tagColon = name.indexOf(':', lastSlash + 1)
  if (atIdx !== -1 || tagColon !== -1) {
    const cut = Math.min(...[atIdx, tagColon].filter((i) => i !== -1))
    const base = name.slice(0, cut)
    return ['a repository name cannot include a tag or digest', tryIt(REPOSITORY_RE.test(base) ? base : suggestRepository(base))]
  }
  if (/[A-Z]/.test(name)) {
    return ['repository names must be lowercase ([a-z0-9] separated by . _ __ - or /)', tryIt(suggestion)]
  }
  return [
    'repository names must be [a-z0-9] components separated by . _ __ - or /, each starting and ending with a letter or digit',
    tryIt(suggestion),
  ]
}

/**
 * Validates an OCI repository name. `host` (host[:port]), when given, counts
 * toward the 255-character 'host/name' limit; without it only the name counts.
 * Returns the name unchanged.
 */
export function validateRepository(name: string, flag = '--target-repo', host?: string): string {
  const problem = repositoryProblem(name, host)
  if (problem) throw new UsageError(`Invalid ${flag} ${q(name)}: ${problem[0]}; ${problem[1]}.`)
  return name
}

// ---------------------------------------------------------------------------
// Tags and digests

function tagProblem(tag: string): [string, string] | undefined {
  if (tag === '') return ['the tag is empty', 'pass a tag such as "v1" or "latest"']
  if (TAG_RE.test(tag)) return undefined
  if (tag.length > MAX_TAG) return [`tags are at most ${MAX_TAG} characters, this one has ${tag.length}`, 'use a shorter tag']
  const suggestion = tag
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+/, '')
    .replace(/-+$/, '')
    .slice(0, MAX_TAG)
  const fix = suggestion !== '' && TAG_RE.test(suggestion) ? `try ${q(suggestion)}` : 'use a tag like "v1"'
  return ['tags may only use letters, digits, "_", "." and "-", and cannot start with "." or "-"', fix]
}

/** Validates an OCI tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}); returns it unchanged. */
export function validateTag(tag: string, flag = '--tag'): string {
  const problem = tagProblem(tag)
  if (problem) throw new UsageError(`Invalid ${flag} ${q(tag)}: ${problem[0]}; ${problem[1]}.`)
  return tag
}

function digestProblem(d: string): [string, string] | undefined {
  if (DIGEST_RE.test(d)) return undefined
  const expected = 'expected sha256:<64 lowercase hex digits> (or sha512:<128>)'
  if (DIGEST_RE.test(d.toLowerCase())) return ['digest hex must be lowercase', `try ${q(d.toLowerCase())}`]
  if (/^[a-fA-F0-9]{64}$/.test(d)) return ['the algorithm prefix is missing', `try ${q(`sha256:${d.toLowerCase()}`)}`]
  const m = /^(sha256|sha512):([a-fA-F0-9]*)$/i.exec(d)
  if (m) {
    const want = m[1].toLowerCase() === 'sha256' ? 64 : 128
    return [`a ${m[1].toLowerCase()} digest has ${want} hex digits, this one has ${m[2].length}`, 'check that it was not truncated']
  }
  return [expected, 'copy the digest exactly as the registry printed it']
}

/** Validates 'sha256:<64 hex>' or 'sha512:<128 hex>' (lowercase); returns it unchanged. */
export function validateDigest(d: string, flag?: string): string {
  const problem = digestProblem(d)
  if (problem) throw new UsageError(`Invalid ${flag ?? 'digest'} ${q(d)}: ${problem[0]}; ${problem[1]}.`)
  return d
}

// ---------------------------------------------------------------------------
// Image references

/**
 * Parses 'registry/repo:tag', 'registry/repo@sha256:…' or both. Docker's rule
 * picks the registry: a first component without '.' or ':' that is not
 * 'localhost' (and is lowercase) means docker.io, where single names get
 * 'library/'. An http:// or https:// prefix forces the scheme and makes the
 * first component the registry. A tag or a digest is required.
 */
export function parseImageReference(ref: string): ImageReference {
  const raw = ref.trim()
  const bad = (what: string, reason: string, fix: string) => new UsageError(`Invalid image reference ${q(what)}: ${reason}; ${fix}.`)
  const example = 'e.g. "ghcr.io/myorg/mymodel:v1"'
  if (raw === '') throw bad(raw, 'it is empty', `pass registry/repository:tag, ${example}`)

  const split = splitScheme(raw)
  if (!split.ok) throw bad(raw, `only http:// and https:// prefixes are supported, not ${split.given}://`, `try ${q(split.rest)}`)
  const body = split.rest
  const at = body.indexOf('@')
  const afterAt = at === -1 ? '' : body.slice(at + 1)
  // An '@' not followed by a digest is taken as userinfo (a password may
  // contain '/'), and the reference is never echoed whole.
  const looksLikeUserinfo =
    at !== -1 &&
    !/^sha(?:256|512):/i.test(afterAt) &&
    (afterAt.includes('/') || /[.:]/.test(afterAt) || afterAt === 'localhost' || body.slice(0, at).includes(':'))
  if (looksLikeUserinfo) {
    // 'user:pass@host/…': never echo what may be a password.
    throw bad(
      redactUserinfo(raw, raw.length - body.length + body.lastIndexOf('@')),
      'credentials do not belong in an image reference',
      'set OCI_USERNAME/OCI_PASSWORD or run "docker login" instead',
    )
  }

  let namePart = body
  let digest: string | undefined
  if (at !== -1) {
    namePart = body.slice(0, at)
    digest = body.slice(at + 1)
    const problem = digestProblem(digest)
    if (problem) throw bad(raw, `the digest ${q(digest)} is invalid: ${problem[0]}`, problem[1])
  }

  let tag: string | undefined
  const lastSlash = namePart.lastIndexOf('/')
  const tagColon = namePart.indexOf(':', lastSlash + 1)
  // A colon after the last slash is a tag, unless the whole thing is a bare
  // 'host:port' with a forced scheme (which then lacks a repository anyway).
  if (tagColon !== -1 && !(lastSlash === -1 && split.scheme)) {
    tag = namePart.slice(tagColon + 1)
    namePart = namePart.slice(0, tagColon)
    const problem = tagProblem(tag)
    if (problem) throw bad(raw, `the tag ${q(tag)} is invalid: ${problem[0]}`, problem[1])
  }

  const slash = namePart.indexOf('/')
  const first = slash === -1 ? namePart : namePart.slice(0, slash)
  const isRegistry =
    slash !== -1 &&
    (split.scheme !== undefined ||
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.startsWith('[') ||
      first !== first.toLowerCase())
  if (split.scheme !== undefined && !isRegistry) {
    throw bad(
      raw,
      'with an http:// or https:// prefix the reference must be registry/repository',
      `e.g. "${split.scheme}://localhost:5000/mymodel:v1"`,
    )
  }

  let registry: ParsedRegistry
  let repository: string
  if (isRegistry) {
    const parsed = registryEndpoint(first, split.scheme)
    if ('reason' in parsed) throw bad(raw, `the registry is invalid: ${parsed.reason}`, parsed.fix)
    registry = parsed
    repository = namePart.slice(slash + 1)
  } else {
    registry = endpoint(DOCKER_HUB, DOCKER_HUB, DOCKER_HUB, undefined)
    repository = namePart
  }
  if (registry.host === DOCKER_HUB_API_HOST && repository !== '' && !repository.includes('/')) repository = `library/${repository}`

  const problem = repositoryProblem(repository, registry.display)
  if (problem) throw bad(raw, `the repository ${q(repository)} is invalid: ${problem[0]}`, problem[1])
  if (tag === undefined && digest === undefined) {
    throw bad(raw, 'it names no tag or digest', `add one, e.g. ${q(`${raw}:latest`)} or ${q(`${raw}@sha256:<digest>`)}`)
  }
  return {registry, repository, ...(tag === undefined ? {} : {tag}), ...(digest === undefined ? {} : {digest})}
}
