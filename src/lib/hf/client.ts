// The three Hub calls modelcar needs: resolve a revision to a commit, list the
// commit's files, and stream one file from a byte offset.
import ky, {type KyInstance} from 'ky'
import {ModelcarError, UsageError} from '../errors.js'
import {header, rawRequest, readText, TransportError, type RawResponse} from '../http/raw.js'
import {defaultRetryPolicy, isTransientStatus, parseRetryAfter, RetryableError, withRetries} from '../http/retry.js'
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

const MAX_REDIRECTS = 5

export class HubClient {
  private readonly api: KyInstance

  constructor(
    readonly endpoint: URL,
    private readonly token: HubToken | undefined,
    private readonly opts: {maxRetries?: number; idleTimeoutMs?: number} = {},
  ) {
    this.api = ky.create({
      headers: token ? {authorization: `Bearer ${token.value}`} : {},
      throwHttpErrors: false,
      timeout: opts.idleTimeoutMs ?? 60_000,
      retry: 0, // one retry policy for everything: see get()
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
    const path = `api/models/${repo}/revision/${encodeURIComponent(revision)}`
    const body = await this.getJson(path, {repo, revision}) as {sha?: unknown}
    if (typeof body?.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha)) {
      throw new ModelcarError(`The Hub at ${this.endpoint.host} answered revision "${revision}" of ${repo} without a commit sha: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
    }
    return body.sha
  }

  /** Every file of a commit, following Link: rel="next" pagination. */
  async listFiles(repo: string, sha: string): Promise<HubFile[]> {
    const files: HubFile[] = []
    let next: string | undefined = this.apiUrl(`api/models/${repo}/tree/${sha}?recursive=true&expand=false`)
    for (let page = 0; next; page++) {
      if (page > 100_000) throw new ModelcarError(`The Hub's file listing of ${repo} never ends: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
      const res = await this.get(next, {repo, revision: sha})
      if (!res.ok) throw hubError(res.status, res.headers, {repo, revision: sha, token: this.token})
      const entries = await parseJson(res, this.endpoint.host)
      if (!Array.isArray(entries)) throw new ModelcarError(`The Hub at ${this.endpoint.host} sent a file listing that is not a list: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
      for (const entry of entries as TreeEntry[]) {
        if (entry?.type !== 'file') continue
        files.push(toHubFile(entry, this.endpoint.host))
      }
      next = nextLink(res.headers.get('link'))
      if (next && new URL(next, this.endpoint).origin !== this.endpoint.origin) {
        throw new ModelcarError(`The Hub's pagination link points to another origin (${new URL(next, this.endpoint).host}); refusing to follow it.`, {code: 'E_HUB_PROTOCOL'})
      }
      if (next) next = new URL(next, this.endpoint).href
    }
    return files
  }

  resolveUrl(repo: string, sha: string, path: string): URL {
    const encoded = path.split('/').map(encodeURIComponent).join('/')
    return new URL(this.apiUrl(`${repo}/resolve/${sha}/${encoded}`))
  }

  /**
   * Stream a file from byte `start`. Redirects are followed by hand: the token
   * goes only to the Hub's own origin, never to a CDN. A 200 to a Range request
   * is an error (the caller restarts the file rather than splice).
   */
  async openFile(repo: string, sha: string, file: HubFile, start = 0, signal?: AbortSignal): Promise<RawResponse> {
    let url = this.resolveUrl(repo, sha, file.path)
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = {'accept-encoding': 'identity', 'user-agent': 'modelcar'}
      if (this.token && url.origin === this.endpoint.origin) headers.authorization = `Bearer ${this.token.value}`
      if (start > 0) headers.range = `bytes=${start}-`
      const res = await rawRequest(url, {method: 'GET', headers, signal, idleTimeoutMs: this.opts.idleTimeoutMs ?? 60_000})
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        res.body.resume()
        const location = header(res.headers, 'location')
        if (!location) throw new ModelcarError(`The Hub redirected ${file.path} without a Location: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
        const nextUrl = new URL(location, url)
        if (url.protocol === 'https:' && nextUrl.protocol !== 'https:') {
          throw new ModelcarError(`The Hub redirected ${file.path} from HTTPS to ${nextUrl.protocol} (${nextUrl.host}); refusing the downgrade.`, {code: 'E_HUB_PROTOCOL'})
        }
        url = nextUrl
        continue
      }
      if (res.status === 200 || res.status === 206) {
        checkBodyRange(res, file, start)
        return res
      }
      const text = await readText(res).catch(() => '')
      throw hubError(res.status, new Headers(flatHeaders(res.headers)), {repo, revision: sha, path: file.path, token: url.origin === this.endpoint.origin ? this.token : undefined}, text)
    }
    throw new ModelcarError(`Too many redirects fetching ${file.path} from the Hub.`, {code: 'E_HUB_PROTOCOL'})
  }

  private async getJson(path: string, ctx: {repo: string; revision?: string}): Promise<unknown> {
    const res = await this.get(this.apiUrl(path), ctx)
    if (!res.ok) throw hubError(res.status, res.headers, {...ctx, token: this.token})
    return parseJson(res, this.endpoint.host)
  }

  /** GET with retries for resets and 408/429/5xx; other answers are returned. */
  private get(url: string, ctx: {repo: string; revision?: string}): Promise<Response> {
    return withRetries(async () => {
      let res: Response
      try {
        res = await this.api.get(url)
      } catch (error) {
        const cause = (error as {cause?: NodeJS.ErrnoException}).cause
        const why = cause?.code ?? cause?.message ?? (error as Error).message
        throw new TransportError(`cannot reach the Hub at ${this.endpoint.host} (${why}): check HF_ENDPOINT and the network`, this.endpoint.host, {cause: error})
      }
      if (isTransientStatus(res.status)) throw hubError(res.status, res.headers, ctx)
      return res
    }, {
      policy: {...defaultRetryPolicy, maxRetries: this.opts.maxRetries ?? defaultRetryPolicy.maxRetries},
      isRetryable: (error) => error instanceof TransportError || error instanceof RetryableError,
    })
  }
}

/** A 200 to a Range request, or a body whose length is not what the listing said. */
export class RangeIgnoredError extends RetryableError {}

function checkBodyRange(res: RawResponse, file: HubFile, start: number): void {
  const length = Number(header(res.headers, 'content-length'))
  if (start > 0) {
    if (res.status !== 206) {
      res.body.resume()
      throw new RangeIgnoredError(`the Hub ignored a Range request for ${file.path} (answered ${res.status})`)
    }
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '')
    if (!m || Number(m[1]) !== start || Number(m[2]) !== file.size - 1) {
      res.body.resume()
      throw new RangeIgnoredError(`the Hub answered a Range request for ${file.path} with the wrong range (${header(res.headers, 'content-range')})`)
    }
  }
  if (Number.isFinite(length) && header(res.headers, 'content-length') !== undefined && length !== file.size - start) {
    res.body.resume()
    throw new ModelcarError(`The Hub sent ${file.path} with ${length} bytes where the listing says ${file.size - start}: the repo changed or the mirror is inconsistent.`, {code: 'E_HUB_SIZE'})
  }
}

function toHubFile(entry: TreeEntry, host: string): HubFile {
  const size = entry.lfs?.size ?? entry.size
  if (typeof entry.path !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ModelcarError(`The Hub at ${host} listed a file without a valid path or size: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
  }
  const lfs = entry.lfs?.oid
  if (lfs !== undefined && !/^[0-9a-f]{64}$/.test(lfs)) {
    throw new ModelcarError(`The Hub at ${host} listed ${JSON.stringify(entry.path)} with an invalid LFS sha256: check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
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

async function parseJson(res: Response, host: string): Promise<unknown> {
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new ModelcarError(`The Hub at ${host} sent malformed JSON (HTTP ${res.status}): check HF_ENDPOINT.`, {code: 'E_HUB_PROTOCOL'})
  }
}

function flatHeaders(h: RawResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

/** Turn a Hub error answer into a one-line message that says what to do. */
export function hubError(
  status: number, headers: Headers, ctx: {repo: string; revision?: string; path?: string; token?: HubToken}, _body?: string,
): Error {
  const code = headers.get('x-error-code') ?? ''
  const {repo, revision, path} = ctx
  // The Hub answers any request with a bad token 401 "Invalid credentials in
  // Authorization header", even for public repos: say it is the token.
  if (status === 401 && ctx.token && /invalid (credentials|token)|bad credentials/i.test(headers.get('x-error-message') ?? '')) {
    return new UsageError(`Hugging Face rejected the token from ${ctx.token.source} (401 invalid credentials): set HF_TOKEN to a valid token, or unset it for public repos.`, 'E_HF_TOKEN')
  }
  if (code === 'RepoNotFound' || (status === 401 && !code)) {
    return new UsageError(`Hugging Face repo "${repo}" was not found, or it is private and no valid token was sent: check --hf-repo, or set HF_TOKEN to a token that can read it.`, 'E_HF_REPO_NOT_FOUND')
  }
  if (code === 'GatedRepo' || status === 403) {
    return new UsageError(`Hugging Face repo "${repo}" is gated or forbidden for this token: accept its terms on the Hub and set HF_TOKEN to a token of an account with access.`, 'E_HF_GATED')
  }
  if (code === 'RevisionNotFound') {
    return new UsageError(`Revision "${revision}" was not found in Hugging Face repo "${repo}": check --hf-revision (a branch, tag, 40-hex commit sha or refs/pr/N).`, 'E_HF_REVISION_NOT_FOUND')
  }
  if (code === 'EntryNotFound' || (status === 404 && path)) {
    return new ModelcarError(`File "${path}" was not found in ${repo} at ${revision}: the Hub listing and its files disagree.`, {code: 'E_HF_ENTRY_NOT_FOUND'})
  }
  if (status === 404) {
    return new UsageError(`Hugging Face repo "${repo}" was not found: check --hf-repo.`, 'E_HF_REPO_NOT_FOUND')
  }
  if (isTransientStatus(status)) {
    return new RetryableError(`the Hub answered HTTP ${status}${path ? ` for ${path}` : ''}`, parseRetryAfter(headers.get('retry-after')))
  }
  return new ModelcarError(`The Hub answered HTTP ${status}${path ? ` for ${path}` : ''} (${code || 'no error code'}).`, {code: 'E_HUB_HTTP'})
}
