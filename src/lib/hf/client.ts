// The Hub calls modelcar needs: resolve a revision to a commit, list the
// commit's files, stream one file from a byte offset, and (for --modelpack)
// read what the commit's model info says of the model. All go through the
// Hub's transport (http/transport.ts): the token only ever goes to the Hub's
// own origin, never to its CDN, and every redirect obeys the same rules.
import {ModelcarError, UsageError} from '../errors.js'
import {LIMITS, readCapped} from '../http/body.js'
import {header, type RawResponse} from '../http/raw.js'
import {isTransientStatus, parseRetryAfter, RetryableError, defaultRetryPolicy} from '../http/retry.js'
import {Transport, type FailedAnswer, type TransportSettings} from '../http/transport.js'
import type {Peer} from '../http/connect-errors.js'
import {parseModelFacts, type HubModelFacts} from './facts.js'
import type {HubToken} from './token.js'

export interface HubFile {
  path: string
  size: number
  /** git blob id (sha1) of the file, or of its LFS pointer. */
  oid: string
  /** Content sha256 (hex) when the file is stored in LFS. */
  lfsSha256?: string
}

interface TreeEntry {
  type: string
  path: string
  size?: number
  oid?: string
  lfs?: {oid?: string; size?: number}
}

/** More than any registry accepts in one layer (the largest known limit is ECR's 52,000 MiB): sizes past it are a broken listing. */
export const MAX_FILE_SIZE = 2 ** 40

/** More entries than any model repo has: a listing that grows past it is refused while it is read. */
export const MAX_LISTED_ENTRIES = 100_000

const HUB_PEER: Peer = {
  name: 'the Hub',
  hint: 'check HF_ENDPOINT and the network',
  refusedFix: 'check HF_ENDPOINT (the Hub or mirror modelcar downloads from)',
  plainHttpFix: (host) => `set HF_ENDPOINT=http://${host}`,
}

/** What a Hub error is about, for its message. */
interface HubContext {
  repo: string
  revision?: string
  path?: string
}

/** Files whose CDN location a client remembers (the most recent). */
const LOCATIONS_KEPT = 64

export class HubClient {
  private readonly transport: Transport
  /**
   * Where each file's bytes were found after the Hub's redirect to another
   * origin (its CDN's signed URL). A file's later ranges (segments, resumes)
   * go there straight: one request and one round trip each, not two. Nothing
   * of the Hub's credentials goes with them (another origin). A location that
   * fails (its signature expired: 403) is forgotten and the Hub asked again.
   */
  private readonly located = new Map<string, URL>()
  /**
   * A file's Hub lookup in flight, settled once its answer's headers are in.
   * Ranges opened meanwhile (a file's first wave of segments) wait for it and
   * use the location it finds, rather than each asking the Hub, whose
   * /resolve/ is rate-limited: one extra round trip for them, not a request each.
   */
  private readonly locating = new Map<string, Promise<void>>()

  constructor(
    readonly endpoint: URL,
    private readonly token: HubToken | undefined,
    opts: TransportSettings & {maxRetries?: number} = {},
  ) {
    const {maxRetries, ...settings} = opts
    this.transport = new Transport({
      ...settings,
      origin: endpoint.origin,
      peer: HUB_PEER,
      auth: token ? {authorization: async () => `Bearer ${token.value}`} : undefined,
      classify: (answer, request) =>
        hubError(answer, {...(request.context as HubContext), token: answer.offOrigin ? undefined : this.token}),
      retry: maxRetries === undefined ? settings.retry : {...(settings.retry ?? defaultRetryPolicy), maxRetries},
    })
  }

  /** The repo's page on the Hub, for the image's source annotation. */
  repoUrl(repo: string): string {
    return this.apiUrl(repo)
  }

  /** Endpoint-relative URL; keeps a path prefix of HF_ENDPOINT (mirrors). */
  private apiUrl(path: string): string {
    const base = this.endpoint.href.endsWith('/') ? this.endpoint.href : this.endpoint.href + '/'
    return new URL(path, base).href
  }

  async resolveRevision(repo: string, revision: string): Promise<string> {
    return (await this.revisionInfo(repo, revision)).sha
  }

  /**
   * The commit a revision names, what the model info says of it beyond the
   * files (see facts.ts), and the file names it lists (`siblings`, empty when
   * it lists none): one request. The file listing stays the authority on files.
   */
  async revisionInfo(repo: string, revision: string): Promise<{sha: string; facts: HubModelFacts; names: string[]}> {
    const path = `api/models/${encodeRepo(repo)}/revision/${encodeURIComponent(revision)}`
    const body = (await this.getJson(new URL(this.apiUrl(path)), `revision ${revision} of ${repo}`, {repo, revision}, LIMITS.json)) as {
      sha?: unknown
      siblings?: unknown
    }
    if (typeof body?.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha)) {
      throw new ModelcarError(
        `The Hub at ${this.endpoint.host} answered revision "${revision}" of ${repo} without a commit sha: check HF_ENDPOINT.`,
        {code: 'E_HUB_PROTOCOL'},
      )
    }
    const siblings = Array.isArray(body.siblings) ? (body.siblings as Array<{rfilename?: unknown}>) : []
    const names = siblings.map((s) => s?.rfilename).filter((n): n is string => typeof n === 'string')
    return {sha: body.sha, facts: parseModelFacts(body), names}
  }

  /**
   * Every file of a commit, following Link: rel="next" pagination. A page
   * seen before, a page over its byte limit, or a listing past
   * MAX_LISTED_ENTRIES is refused as soon as it shows.
   */
  async listFiles(repo: string, sha: string): Promise<HubFile[]> {
    const files: HubFile[] = []
    const seen = new Set<string>()
    let entriesRead = 0
    let next: URL | undefined = new URL(this.apiUrl(`api/models/${encodeRepo(repo)}/tree/${sha}?recursive=true&expand=false`))
    while (next) {
      if (seen.has(next.href))
        throw new ModelcarError(`The Hub's file listing of ${repo} links back to a page it already sent: check HF_ENDPOINT.`, {
          code: 'E_HUB_PROTOCOL',
        })
      seen.add(next.href)
      const {body: entries, res} = await this.getJsonAnswer(next, `file listing of ${repo}`, {repo, revision: sha}, LIMITS.listingPage)
      if (!Array.isArray(entries))
        throw new ModelcarError(`The Hub at ${this.endpoint.host} sent a file listing that is not a list: check HF_ENDPOINT.`, {
          code: 'E_HUB_PROTOCOL',
        })
      entriesRead += entries.length
      if (entriesRead > MAX_LISTED_ENTRIES) {
        throw new ModelcarError(
          `The Hub's file listing of ${repo} has more than ${MAX_LISTED_ENTRIES} entries, more than any registry accepts as layers: check HF_ENDPOINT.`,
          {code: 'E_HUB_PROTOCOL'},
        )
      }
      for (const entry of entries as TreeEntry[]) {
        if (entry?.type !== 'file') continue
        files.push(toHubFile(entry, this.endpoint.host))
      }
      const link = nextLink(res.headers.get('link'))
      next = link === undefined ? undefined : new URL(link, this.endpoint)
      if (next && next.origin !== this.endpoint.origin) {
        throw new ModelcarError(`The Hub's pagination link points to another origin (${next.host}); refusing to follow it.`, {
          code: 'E_HUB_PROTOCOL',
        })
      }
    }
    return files
  }

  resolveUrl(repo: string, sha: string, path: string): URL {
    const encoded = path.split('/').map(encodeURIComponent).join('/')
    return new URL(this.apiUrl(`${encodeRepo(repo)}/resolve/${sha}/${encoded}`))
  }

  /**
   * Stream a file's bytes [start, end) (to its end by default). A 200 to a
   * Range request is an error (the caller restarts the file rather than splice).
   * The body's pieces may be lent: give each back (http/read-arenas.ts) once
   * nothing reads it any more, or drop it (the collector then frees it).
   */
  async openFile(repo: string, sha: string, file: HubFile, start = 0, signal?: AbortSignal, end = file.size): Promise<RawResponse> {
    const headers: Record<string, string> = {'accept-encoding': 'identity', 'user-agent': 'modelcar'}
    if (start > 0 || end < file.size) headers.range = `bytes=${start}-${end < file.size ? end - 1 : ''}`
    const request = {
      what: file.path,
      op: 'file',
      context: {repo, revision: sha, path: file.path},
      headers,
      signal,
      accept: [200, 206],
      // The push gives each piece back once it is uploaded (LayerReader.giveBack).
      lend: true,
    }
    const key = `${repo}@${sha}:${file.path}`
    let res = await this.openLocated(key, request)
    const lookup = res ? undefined : this.locating.get(key)
    if (lookup) {
      await untilSettledOrAborted(lookup, signal)
      res = await this.openLocated(key, request)
    }
    if (!res) {
      const hub = this.resolveUrl(repo, sha, file.path)
      const asked = this.transport.open(hub, request)
      const settled = asked.then(
        () => undefined,
        () => undefined,
      )
      this.locating.set(key, settled)
      void settled.then(() => this.locating.get(key) === settled && this.locating.delete(key))
      const answer = await asked
      res = answer.res
      if (answer.url.origin !== hub.origin) this.remember(key, answer.url)
    }
    checkBodyRange(res, file, start, end)
    return res
  }

  /** The file's remembered location answered, or undefined (none, or it failed: ask the Hub). */
  private async openLocated(key: string, request: Parameters<Transport['open']>[1]): Promise<RawResponse | undefined> {
    const at = this.located.get(key)
    if (!at) return undefined
    try {
      return (await this.transport.open(at, request)).res
    } catch (error) {
      if (request.signal?.aborted) throw error
      this.located.delete(key)
      return undefined
    }
  }

  private remember(key: string, location: URL): void {
    this.located.delete(key)
    this.located.set(key, location)
    if (this.located.size > LOCATIONS_KEPT) this.located.delete(this.located.keys().next().value!)
  }

  /**
   * One request that says whether this token may read the repo's files: a
   * gated or private repo lists its files to anyone but refuses their
   * content, and should fail once while planning, not once per file. The
   * Hub's own answer says it; a redirect to the CDN is not followed.
   */
  async checkAccess(repo: string, sha: string, path: string): Promise<void> {
    const {res} = await this.transport.open(this.resolveUrl(repo, sha, path), {
      method: 'HEAD',
      what: path,
      op: 'file',
      context: {repo, revision: sha, path},
      headers: {'user-agent': 'modelcar'},
      accept: [200, 301, 302, 303, 307, 308],
    })
    res.body.resume()
  }

  private async getJson(url: URL, what: string, context: HubContext, limit: number): Promise<unknown> {
    return (await this.getJsonAnswer(url, what, context, limit)).body
  }

  /** GET a JSON document, retried on resets and 408/429/5xx, its body capped at `limit` bytes. */
  private async getJsonAnswer(url: URL, what: string, context: HubContext, limit: number): Promise<{body: unknown; res: Response}> {
    return this.transport.withRetries(
      async () => {
        const res = await this.transport.request('GET', url, {what, op: 'json', context, retries: false})
        const text = (await readCapped(res, limit, what, 'the Hub')).toString('utf8')
        try {
          return {body: JSON.parse(text) as unknown, res}
        } catch {
          throw new ModelcarError(`The Hub at ${this.endpoint.host} sent malformed JSON (HTTP ${res.status}): check HF_ENDPOINT.`, {
            code: 'E_HUB_PROTOCOL',
          })
        }
      },
      {what},
    )
  }
}

/** `org/name` into a URL path, each segment encoded. */
function encodeRepo(repo: string): string {
  return repo.split('/').map(encodeURIComponent).join('/')
}

/** A 200 to a Range request, or a body whose length is not what the listing said. */
export class RangeIgnoredError extends RetryableError {}

function checkBodyRange(res: RawResponse, file: HubFile, start: number, end: number): void {
  const length = Number(header(res.headers, 'content-length'))
  if (start > 0 || end < file.size) {
    if (res.status !== 206) {
      res.body.resume()
      throw new RangeIgnoredError(`the Hub ignored a Range request for ${file.path} (answered ${res.status})`)
    }
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '')
    if (!m || Number(m[1]) !== start || Number(m[2]) !== end - 1) {
      res.body.resume()
      throw new RangeIgnoredError(
        `the Hub answered a Range request for ${file.path} with the wrong range (${header(res.headers, 'content-range')})`,
      )
    }
  }
  if (Number.isFinite(length) && header(res.headers, 'content-length') !== undefined && length !== end - start) {
    res.body.resume()
    throw new ModelcarError(
      `The Hub sent ${file.path} with ${length} bytes where the listing says ${end - start}: the repo changed or the mirror is inconsistent.`,
      {code: 'E_HUB_SIZE'},
    )
  }
}

function toHubFile(entry: TreeEntry, host: string): HubFile {
  const size = entry.lfs?.size ?? entry.size
  if (typeof entry.path !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ModelcarError(`The Hub at ${host} listed a file without a valid path or size: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
  }
  if (size > MAX_FILE_SIZE) {
    throw new ModelcarError(
      `The Hub at ${host} listed ${JSON.stringify(entry.path)} at ${size} bytes, more than any registry accepts in one layer (1 TiB): check HF_ENDPOINT.`,
      {code: 'E_HUB_PROTOCOL'},
    )
  }
  const lfs = entry.lfs?.oid
  if (lfs !== undefined && !/^[0-9a-f]{64}$/.test(lfs)) {
    throw new ModelcarError(`The Hub at ${host} listed ${JSON.stringify(entry.path)} with an invalid LFS sha256: check HF_ENDPOINT.`, {
      code: 'E_HUB_PROTOCOL',
    })
  }
  return {path: entry.path, size, oid: String(entry.oid ?? ''), ...(lfs ? {lfsSha256: lfs} : {})}
}

export function nextLink(link: string | null | undefined): string | undefined {
  if (!link) return undefined
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part)
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2])) return m[1]
  }
  return undefined
}

/** Turn a Hub error answer into a one-line message that says what to do. */
export function hubError(answer: Pick<FailedAnswer, 'status' | 'header'>, ctx: HubContext & {token?: HubToken}): Error {
  const {status} = answer
  const code = answer.header('x-error-code') ?? ''
  const {repo, revision, path} = ctx
  // The Hub answers any request with a bad token 401 "Invalid credentials in
  // Authorization header", even for public repos: say it is the token.
  if (status === 401 && ctx.token && /invalid (credentials|token)|bad credentials/i.test(answer.header('x-error-message') ?? '')) {
    return new UsageError(
      `Hugging Face rejected the token from ${ctx.token.source} (401 invalid credentials): set HF_TOKEN to a valid token, or unset it for public repos.`,
      'E_HF_TOKEN',
    )
  }
  if (code === 'RepoNotFound' || (status === 401 && !code)) {
    return new UsageError(
      `Hugging Face repo "${repo}" was not found, or it is private and no valid token was sent: check --hf-repo, or set HF_TOKEN to a token that can read it.`,
      'E_HF_REPO_NOT_FOUND',
    )
  }
  if (code === 'GatedRepo' || status === 403) {
    return new UsageError(
      `Hugging Face repo "${repo}" is gated or forbidden for this token: accept its terms on the Hub and set HF_TOKEN to a token of an account with access.`,
      'E_HF_GATED',
    )
  }
  if (code === 'RevisionNotFound') {
    return new UsageError(
      `Revision "${revision}" was not found in Hugging Face repo "${repo}": check --hf-revision (a branch, tag, 40-hex commit sha or refs/pr/N).`,
      'E_HF_REVISION_NOT_FOUND',
    )
  }
  if (code === 'EntryNotFound' || (status === 404 && path)) {
    return new ModelcarError(`File "${path}" was not found in ${repo} at ${revision}: the Hub listing and its files disagree.`, {
      code: 'E_HF_ENTRY_NOT_FOUND',
    })
  }
  if (status === 404) {
    return new UsageError(`Hugging Face repo "${repo}" was not found: check --hf-repo.`, 'E_HF_REPO_NOT_FOUND')
  }
  if (isTransientStatus(status)) {
    return new RetryableError(
      `the Hub answered HTTP ${status}${path ? ` for ${path}` : ''}`,
      parseRetryAfter(answer.header('retry-after')),
      {status},
    )
  }
  return new ModelcarError(`The Hub answered HTTP ${status}${path ? ` for ${path}` : ''} (${code || 'no error code'}).`, {
    code: 'E_HUB_HTTP',
  })
}

/** Wait for `settled` (which never rejects), or until `signal` aborts: then throw its reason. */
async function untilSettledOrAborted(settled: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return settled
  let onAbort: (() => void) | undefined
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve
    signal.addEventListener('abort', onAbort, {once: true})
  })
  try {
    if (!signal.aborted) await Promise.race([settled, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
  signal.throwIfAborted()
}
