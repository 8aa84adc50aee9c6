// Whom TLS trusts for one registry, following the containers convention
// (containers-certs.d(5), also docker's): in HOST[:PORT]/ under
// /etc/containers/certs.d, ~/.config/containers/certs.d and
// /etc/docker/certs.d, every `*.crt` is a CA, and `NAME.cert` with
// `NAME.key` is a client certificate for mutual TLS. Node's default CAs and
// NODE_EXTRA_CA_CERTS stay trusted beside them.
import {readdirSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {rootCertificates} from 'node:tls'
import {UsageError} from '../errors.js'

export interface TlsTrust {
  /** Replaces the default CA list when set (it includes the defaults). */
  ca?: string[]
  cert?: Buffer
  key?: Buffer
  /** Where the settings came from, for --verbose. */
  sources: string[]
}

/** The folders searched, in order; MODELCAR_CERTS_DIRS (colon-separated) replaces them. */
export function certsDirs(env: NodeJS.ProcessEnv = process.env, home = homedir()): string[] {
  if (env.MODELCAR_CERTS_DIRS) return env.MODELCAR_CERTS_DIRS.split(':').filter(Boolean)
  return ['/etc/containers/certs.d', join(home, '.config/containers/certs.d'), '/etc/docker/certs.d']
}

/** The trust settings for a registry at `host` (host[:port], as in the URL). */
export function registryTrust(host: string, env: NodeJS.ProcessEnv = process.env): TlsTrust {
  const cas: string[] = []
  const sources: string[] = []
  let cert: Buffer | undefined
  let key: Buffer | undefined
  for (const root of certsDirs(env)) {
    const dir = join(root, host.replace(/^\[|\]$/g, ''))
    let names: string[]
    try {
      names = readdirSync(dir).sort()
    } catch {
      continue
    }
    for (const name of names) {
      if (name.endsWith('.crt')) {
        cas.push(readFileSync(join(dir, name), 'utf8'))
        sources.push(join(dir, name))
      } else if (name.endsWith('.cert') && !cert) {
        const keyName = name.replace(/\.cert$/, '.key')
        if (!names.includes(keyName)) {
          throw new UsageError(`${join(dir, name)} has no ${keyName} beside it: a client certificate needs its key.`, 'E_TLS_CONFIG')
        }
        cert = readFileSync(join(dir, name))
        key = readFileSync(join(dir, keyName))
        sources.push(join(dir, name))
      }
    }
  }
  return {...(cas.length > 0 ? {ca: [...defaultCas(env), ...cas]} : {}), ...(cert ? {cert, key} : {}), sources}
}

/** Node's bundled CAs plus NODE_EXTRA_CA_CERTS: what a custom `ca` list must keep. */
function defaultCas(env: NodeJS.ProcessEnv): string[] {
  const extra = env.NODE_EXTRA_CA_CERTS
  if (!extra) return [...rootCertificates]
  try {
    return [...rootCertificates, readFileSync(extra, 'utf8')]
  } catch {
    return [...rootCertificates]
  }
}
