// Which proxy a URL goes through, read from the environment as curl reads it:
// https_proxy / HTTPS_PROXY for https URLs, http_proxy / HTTP_PROXY for http
// ones (the lower-case name wins; the upper-case HTTP_PROXY is ignored under
// CGI, where a request header could set it), and no_proxy / NO_PROXY for the
// exceptions: `*`, host names matching themselves and their subdomains (a
// leading dot changes nothing), IP addresses, CIDR ranges, and `host:port`
// entries that match one port only.
import {BlockList, isIP} from 'node:net'
import {UsageError} from '../errors.js'

export interface ProxySettings {
  http?: URL
  https?: URL
  noProxy: NoProxyRule[]
}

type NoProxyRule = {kind: 'all'} | {kind: 'host'; host: string; port?: string} | {kind: 'ip'; list: BlockList; port?: string}

/** The proxy settings of an environment (process.env by default). */
export function proxySettings(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const read = (name: string, upperAllowed = true) => {
    const lower = env[name.toLowerCase()]
    if (lower !== undefined) return lower.trim() || undefined
    return upperAllowed ? env[name.toUpperCase()]?.trim() || undefined : undefined
  }
  const httpProxy = read('http_proxy', env.REQUEST_METHOD === undefined)
  const httpsProxy = read('https_proxy')
  return {
    ...(httpProxy ? {http: parseProxyUrl(httpProxy, 'HTTP_PROXY')} : {}),
    ...(httpsProxy ? {https: parseProxyUrl(httpsProxy, 'HTTPS_PROXY')} : {}),
    noProxy: parseNoProxy(read('no_proxy') ?? ''),
  }
}

/** The proxy for `url`, or undefined to go direct. */
export function proxyFor(url: URL, settings: ProxySettings): URL | undefined {
  const proxy = url.protocol === 'https:' ? settings.https : settings.http
  if (!proxy || bypasses(url, settings.noProxy)) return undefined
  return proxy
}

/** A proxy URL as the user wrote it: scheme optional (http), only http and https proxies. */
export function parseProxyUrl(value: string, name: string): URL {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`)
  } catch {
    throw new UsageError(`${name} is not a URL (${redactUserinfo(value)}): set it to e.g. http://proxy.example.com:3128.`, 'E_PROXY_CONFIG')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} names a ${url.protocol} proxy; modelcar speaks to http:// and https:// proxies only.`, 'E_PROXY_CONFIG')
  }
  return url
}

/** A URL for printing: any user and password replaced by `***`. */
export function redactUserinfo(value: string): string {
  // Greedy to the last '@' of the authority: a password may hold '@' itself.
  return value.replace(/(^|\/\/)[^/?#\s]*@/, (_m, lead: string) => `${lead}***@`)
}

function parseNoProxy(value: string): NoProxyRule[] {
  const rules: NoProxyRule[] = []
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') {
      rules.push({kind: 'all'})
      continue
    }
    const cidr = /^\[?([0-9a-f:.]+)\]?\/(\d{1,3})$/.exec(entry)
    if (cidr && isIP(cidr[1])) {
      const list = new BlockList()
      const family = isIP(cidr[1]) === 4 ? 'ipv4' : 'ipv6'
      list.addSubnet(cidr[1], Math.min(Number(cidr[2]), family === 'ipv4' ? 32 : 128), family)
      rules.push({kind: 'ip', list})
      continue
    }
    const {host, port} = splitHostPort(entry)
    if (isIP(host)) {
      const list = new BlockList()
      list.addAddress(host, isIP(host) === 4 ? 'ipv4' : 'ipv6')
      rules.push({kind: 'ip', list, ...(port ? {port} : {})})
    } else {
      rules.push({kind: 'host', host: host.replace(/^\*?\./, '').replace(/\.$/, ''), ...(port ? {port} : {})})
    }
  }
  return rules
}

function splitHostPort(entry: string): {host: string; port?: string} {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed) return {host: bracketed[1], port: bracketed[2]}
  if (isIP(entry)) return {host: entry}
  const m = /^(.*):(\d+)$/.exec(entry)
  return m ? {host: m[1], port: m[2]} : {host: entry}
}

function bypasses(url: URL, rules: NoProxyRule[]): boolean {
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '')
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  const family = isIP(host)
  return rules.some((rule) => {
    if (rule.kind === 'all') return true
    if (rule.port && rule.port !== port) return false
    if (rule.kind === 'ip') return family !== 0 && rule.list.check(host, family === 4 ? 'ipv4' : 'ipv6')
    return family === 0 && (host === rule.host || host.endsWith(`.${rule.host}`))
  })
}
