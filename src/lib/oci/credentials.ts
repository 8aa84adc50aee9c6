// Finds registry credentials the way docker and podman users already set them
// up, reading (never writing) their files and asking their credential helpers.
//
// Lookup order, first hit wins:
//  1. OCI_USERNAME + OCI_PASSWORD in the environment (for every registry);
//  2. docker's config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json:
//     credHelpers[host], then auths[host], then credsStore;
//  3. containers' auth file: $REGISTRY_AUTH_FILE, else
//     $XDG_RUNTIME_DIR/containers/auth.json: auths[host] (or a repository key);
//  4. none: undefined, meaning anonymous.
//
// Unlike docker, auths entries are consulted before credsStore: docker
// ignores them once credsStore is set, but then they are mere placeholders
// ('"ghcr.io": {}'), which are skipped here, so both orders agree on what
// docker writes, and a real entry saves running the helper.
//
// Credential helpers speak docker's protocol: `docker-credential-<name> get`
// reads the server URL on stdin and prints {"ServerURL","Username","Secret"};
// Username '<token>' marks an identity token; "credentials not found in
// native keychain" (with a non-zero exit) means none.
//
// No error message carries a secret, a file's contents or a helper's output.

import {spawn} from 'node:child_process'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {ModelcarError, UsageError} from '../errors.js'
import {DOCKER_HUB, DOCKER_HUB_SERVER_URL, isDockerHub} from './docker-hub.js'

export type RegistryCredential =
  | {kind: 'basic'; username: string; password: string; source: string}
  /** docker's identitytoken: sent as an OAuth2 refresh_token to the token endpoint. */
  | {kind: 'identity-token'; username?: string; token: string; source: string}

export interface FindRegistryCredentialOptions {
  /** Repository path on that registry ('org/model'): lets repository-scoped auth.json keys ('quay.io/org') apply. */
  repository?: string
  /** Defaults to process.env; also the environment (and PATH) the credential helpers run with. */
  env?: NodeJS.ProcessEnv
  /** Defaults to os.homedir(). */
  homedir?: string
  /** How long a credential helper may take; 10 s by default. */
  helperTimeoutMs?: number
}

const CREDENTIAL_HELPER_TIMEOUT_MS = 10_000
const ENV_SOURCE = 'OCI_USERNAME/OCI_PASSWORD'

const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const NOT_FOUND_RE = /credentials not found/i
const MAX_HELPER_OUTPUT = 1024 * 1024

type JsonObject = Record<string, unknown>

interface ConfigFile {
  /** As printed: '~/.docker/config.json'. */
  display: string
  data: JsonObject
}

interface AuthKey {
  /** Lowercase host[:port]; Docker Hub's names all become 'docker.io'. */
  host: string
  /** Repository prefix for repository-scoped keys ('quay.io/org'), else undefined. */
  namespace?: string
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Field lookup, exact name first, then case-insensitive as Go's encoding/json does. */
function field(obj: JsonObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name]
  const lower = name.toLowerCase()
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key]
  return undefined
}

/**
 * Normalises an auths/credHelpers key or a host: strips a scheme, user info,
 * and an API path ('https://index.docker.io/v1/', 'host/v2/'). A key without a
 * scheme whose path is not an API path is repository-scoped ('quay.io/org').
 */
function parseAuthKey(key: string): AuthKey | undefined {
  let k = key.trim()
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(k)
  if (scheme) k = k.slice(scheme[0].length)
  k = k.replace(/[?#].*$/, '')
  const slash = k.indexOf('/')
  let host = slash === -1 ? k : k.slice(0, slash)
  const rest = slash === -1 ? '' : k.slice(slash + 1).replace(/^\/+|\/+$/g, '')
  const at = host.lastIndexOf('@')
  if (at !== -1) host = host.slice(at + 1)
  host = host.toLowerCase()
  if (host === '') return undefined
  if (isDockerHub(host)) host = DOCKER_HUB
  if (scheme || rest === '' || /^v[12]$/i.test(rest)) return {host}
  return {host, namespace: rest.toLowerCase()}
}

function tildify(file: string, home: string): string {
  if (home && (file === home || file.startsWith(home + path.sep))) return `~${file.slice(home.length)}`
  return file
}

async function readConfig(file: string, display: string): Promise<ConfigFile | undefined> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    if (code === 'EISDIR')
      throw new UsageError(
        `${display} is a directory, not a file; remove it or point the variable that names it elsewhere.`,
        'E_CREDENTIALS_FILE',
      )
    if (code === 'EACCES' || code === 'EPERM')
      throw new UsageError(
        `Cannot read ${display}: permission denied; fix its permissions so registry credentials can be read.`,
        'E_CREDENTIALS_FILE',
      )
    throw new UsageError(
      `Cannot read ${display} (${code ?? 'unknown error'}); fix or move the file so registry credentials can be read.`,
      'E_CREDENTIALS_FILE',
    )
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  if (text.trim() === '') return {display, data: {}}
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    // The SyntaxError quotes the file, which may hold secrets: never pass it on.
    throw new UsageError(
      `${display} is not valid JSON; fix its syntax (or move it aside) so registry credentials can be read.`,
      'E_CREDENTIALS_FILE',
    )
  }
  if (!isObject(data))
    throw new UsageError(
      `${display} is not a JSON object; fix it (or move it aside) so registry credentials can be read.`,
      'E_CREDENTIALS_FILE',
    )
  return {display, data}
}

function objectField(cfg: ConfigFile, name: string): JsonObject | undefined {
  const v = field(cfg.data, name)
  if (v === undefined || v === null) return undefined
  if (!isObject(v))
    throw new UsageError(
      `"${name}" in ${cfg.display} is not a JSON object; fix it (or move the file aside) so registry credentials can be read.`,
      'E_CREDENTIALS_FILE',
    )
  return v
}

/** Keys of `map` that apply to host (and repository), most specific first; file order breaks ties. */
function matchingKeys(map: JsonObject, host: string, repository: string | undefined): string[] {
  const scored: Array<{key: string; score: number}> = []
  for (const key of Object.keys(map)) {
    const k = parseAuthKey(key)
    if (!k || k.host !== host) continue
    if (k.namespace === undefined) {
      scored.push({key, score: key.toLowerCase() === host ? 1 : 0})
    } else if (repository !== undefined && (repository === k.namespace || repository.startsWith(`${k.namespace}/`))) {
      scored.push({key, score: 2 + k.namespace.length})
    }
  }
  return scored.sort((a, b) => b.score - a.score).map((s) => s.key)
}

function decodeAuthEntry(entry: unknown, cfg: ConfigFile, host: string): RegistryCredential | undefined {
  const where = `the auths entry for ${host} in ${cfg.display}`
  if (!isObject(entry)) throw new UsageError(`${capitalise(where)} is not a JSON object; fix it or log in again.`, 'E_CREDENTIALS_FILE')
  const str = (name: string): string => {
    const v = field(entry, name)
    if (v === undefined || v === null) return ''
    if (typeof v !== 'string') throw new UsageError(`"${name}" in ${where} is not a string; fix it or log in again.`, 'E_CREDENTIALS_FILE')
    return v
  }
  const auth = str('auth').replace(/\s+/g, '')
  const identityToken = str('identitytoken')
  let username = str('username')
  let password = str('password')
  if (auth !== '') {
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(auth) && auth.length % 4 !== 1 ? Buffer.from(auth, 'base64').toString('utf8') : ''
    const colon = decoded.indexOf(':')
    if (colon === -1) {
      throw new UsageError(
        `The "auth" value of ${where} is not base64 of "username:password"; log in to ${host} again or fix the entry.`,
        'E_CREDENTIALS_FILE',
      )
    }
    username = decoded.slice(0, colon)
    password = decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '')
  }
  if (identityToken !== '')
    return {kind: 'identity-token', ...(username === '' ? {} : {username}), token: identityToken, source: cfg.display}
  if (username !== '' && password !== '') return {kind: 'basic', username, password, source: cfg.display}
  return undefined // a placeholder such as '"ghcr.io": {}'
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

function fromAuths(cfg: ConfigFile, host: string, repository: string | undefined): RegistryCredential | undefined {
  const auths = objectField(cfg, 'auths')
  if (!auths) return undefined
  for (const key of matchingKeys(auths, host, repository)) {
    const credential = decodeAuthEntry(auths[key], cfg, host)
    if (credential) return credential
  }
  return undefined
}

interface HelperCall {
  name: string
  /** For messages: 'credHelpers in ~/.docker/config.json'. */
  configuredIn: string
  serverUrl: string
  host: string
  env: NodeJS.ProcessEnv
  timeoutMs: number
}

function helperName(value: unknown, configuredIn: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string' || !HELPER_NAME_RE.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : 'a non-string value'
    throw new UsageError(
      `Invalid credential helper name ${shown} (${configuredIn}); use the helper's suffix, e.g. "pass" for docker-credential-pass.`,
      'E_CREDENTIALS_FILE',
    )
  }
  return value
}

/** Runs `docker-credential-<name> get`. Resolves undefined when the helper has no credentials for the server. */
function runHelper(call: HelperCall): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${call.name}`
  const retry = `run "echo ${call.serverUrl} | ${program} get" to see why`
  return new Promise((resolve, reject) => {
    let settled = false
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let outBytes = 0
    let errBytes = 0
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(program, ['get'], {env: call.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true})
    } catch {
      reject(
        new ModelcarError(
          `Credential helper ${program} (${call.configuredIn}) could not be started; check that it is installed and executable.`,
          {code: 'E_CREDENTIAL_HELPER'},
        ),
      )
      return
    }
    // On timeout, answer at once: a grandchild holding the pipes open would delay 'close'.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      child.stdout?.destroy()
      child.stderr?.destroy()
      finish(() =>
        reject(
          new ModelcarError(
            `Credential helper ${program} did not answer within ${formatSeconds(call.timeoutMs)} for ${call.host}; check that it is not waiting for input (a locked keychain, a GPG passphrase), then ${retry}.`,
            {code: 'E_CREDENTIAL_HELPER'},
          ),
        ),
      )
    }, call.timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      if (outBytes < MAX_HELPER_OUTPUT) stdout.push(chunk)
      outBytes += chunk.length
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      if (errBytes < MAX_HELPER_OUTPUT) stderr.push(chunk)
      errBytes += chunk.length
    })
    child.stdin?.on('error', () => {
      // EPIPE when a helper exits without reading its input: its exit status tells.
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      finish(() => {
        if (error.code === 'ENOENT') {
          reject(
            new UsageError(
              `Credential helper ${program} (${call.configuredIn}) is not installed or not on PATH; install it, or remove it from that file.`,
              'E_CREDENTIAL_HELPER',
            ),
          )
        } else if (error.code === 'EACCES') {
          reject(
            new UsageError(
              `Credential helper ${program} (${call.configuredIn}) is not executable; fix its permissions (chmod +x).`,
              'E_CREDENTIAL_HELPER',
            ),
          )
        } else {
          reject(
            new ModelcarError(
              `Credential helper ${program} (${call.configuredIn}) could not be started (${error.code ?? 'unknown error'}); check that it is installed and executable.`,
              {code: 'E_CREDENTIAL_HELPER'},
            ),
          )
        }
      })
    })
    child.on('close', (code, signal) => {
      finish(() => {
        const out = Buffer.concat(stdout).toString('utf8').trim()
        if (code !== 0) {
          if (NOT_FOUND_RE.test(out) || NOT_FOUND_RE.test(Buffer.concat(stderr).toString('utf8'))) {
            resolve(undefined)
            return
          }
          const how = signal ? `was killed by ${signal}` : `failed with exit code ${code}`
          reject(new ModelcarError(`Credential helper ${program} ${how} for ${call.host}; ${retry}.`, {code: 'E_CREDENTIAL_HELPER'}))
          return
        }
        if (out === '' || NOT_FOUND_RE.test(out)) {
          resolve(undefined)
          return
        }
        let parsed: unknown
        try {
          parsed = JSON.parse(out)
        } catch {
          parsed = undefined
        }
        const username = isObject(parsed) ? (field(parsed, 'Username') ?? '') : undefined
        const secret = isObject(parsed) ? (field(parsed, 'Secret') ?? '') : undefined
        if (typeof username !== 'string' || typeof secret !== 'string') {
          reject(
            new ModelcarError(
              `Credential helper ${program} answered for ${call.host} with something other than {"Username","Secret"} JSON; update the helper or ${retry}.`,
              {code: 'E_CREDENTIAL_HELPER'},
            ),
          )
          return
        }
        if (secret === '') resolve(undefined)
        else if (username === '<token>') resolve({kind: 'identity-token', token: secret, source: program})
        else resolve({kind: 'basic', username, password: secret, source: program})
      })
    })
    // Docker writes the server URL without a newline.
    child.stdin?.end(call.serverUrl)
  })
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/**
 * Finds credentials for a registry host ('host[:port]'; a URL or any of
 * Docker Hub's names also work). Returns undefined for anonymous access.
 */
export async function findRegistryCredential(
  host: string,
  opts: FindRegistryCredentialOptions = {},
): Promise<RegistryCredential | undefined> {
  const env = opts.env ?? process.env
  const home = opts.homedir ?? os.homedir()
  const target = parseAuthKey(host)
  if (!target || target.namespace !== undefined) {
    throw new UsageError(
      `Invalid registry host ${JSON.stringify(host.slice(0, 120))} for credential lookup; pass host[:port], e.g. "ghcr.io".`,
    )
  }
  const repository = opts.repository?.replace(/^\/+|\/+$/g, '').toLowerCase() || undefined
  const timeoutMs = opts.helperTimeoutMs ?? CREDENTIAL_HELPER_TIMEOUT_MS

  // 1. Environment.
  const user = env.OCI_USERNAME ?? ''
  const pass = env.OCI_PASSWORD ?? ''
  if (user !== '' || pass !== '') {
    if (user === '' || pass === '') {
      const [set, unset] = user === '' ? ['OCI_PASSWORD', 'OCI_USERNAME'] : ['OCI_USERNAME', 'OCI_PASSWORD']
      throw new UsageError(
        `${set} is set but ${unset} is not; set both, or unset ${set} to use docker/podman credentials.`,
        'E_CREDENTIALS_ENV',
      )
    }
    return {kind: 'basic', username: user, password: pass, source: ENV_SOURCE}
  }

  const serverUrl = target.host === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : target.host
  const helper = (name: string, configuredIn: string) => runHelper({name, configuredIn, serverUrl, host: target.host, env, timeoutMs})

  // 2. Docker's config.
  const dockerDir = env.DOCKER_CONFIG ? env.DOCKER_CONFIG : path.join(home, '.docker')
  const dockerFile = path.join(dockerDir, 'config.json')
  const docker = await readConfig(dockerFile, tildify(dockerFile, home))
  if (docker) {
    const credHelpers = objectField(docker, 'credHelpers')
    if (credHelpers) {
      const key = matchingKeys(credHelpers, target.host, undefined)[0]
      const name = key === undefined ? undefined : helperName(credHelpers[key], `credHelpers in ${docker.display}`)
      if (name !== undefined) {
        const found = await helper(name, `credHelpers in ${docker.display}`)
        if (found) return found
      }
    }
    const fromFile = fromAuths(docker, target.host, repository)
    if (fromFile) return fromFile
    const store = helperName(field(docker.data, 'credsStore'), `credsStore in ${docker.display}`)
    if (store !== undefined) {
      const found = await helper(store, `credsStore in ${docker.display}`)
      if (found) return found
    }
  }

  // 3. Containers' auth file (podman, skopeo, buildah).
  const authFile = env.REGISTRY_AUTH_FILE
    ? env.REGISTRY_AUTH_FILE
    : env.XDG_RUNTIME_DIR
      ? path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json')
      : undefined
  if (authFile !== undefined) {
    const containers = await readConfig(authFile, tildify(authFile, home))
    if (containers) {
      const fromFile = fromAuths(containers, target.host, repository)
      if (fromFile) return fromFile
    }
  }

  // 4. Anonymous.
  return undefined
}
