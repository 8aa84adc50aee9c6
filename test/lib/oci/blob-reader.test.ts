import {expect} from 'chai'
import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {RegistryAuth} from '../../../src/lib/oci/auth.js'
import {TransportError} from '../../../src/lib/http/raw.js'
import {BlobNotFoundError, BlobReader, ShortBlobError} from '../../../src/lib/oci/blob-reader.js'
import {RegistryClient} from '../../../src/lib/oci/client.js'

const BLOB = Buffer.alloc(300_000)
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 7919) % 251
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`
const BASIC = `Basic ${Buffer.from('u:p').toString('base64')}`

interface Seen {
  origin: 'registry' | 'storage'
  method: string
  url: string
  authorization?: string
  range?: string
}

async function listen(handler: http.RequestListener): Promise<{server: http.Server; url: string}> {
  const server = http.createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`}
}

describe('oci/blob-reader', () => {
  const seen: Seen[] = []
  let registry: {server: http.Server; url: string}
  let storage: {server: http.Server; url: string}
  /** Storage behaviour for the next requests. */
  let cutAfter: number | undefined
  let ignoreRange = false
  /** Every answer stops at this byte of the blob (a registry whose copy is short). */
  let shortAt: number | undefined
  /** Every answer is cut after this many bytes (a flaky link: each retry gets further). */
  let stepCut: number | undefined

  before(async () => {
    storage = await listen((req, res) => {
      seen.push({origin: 'storage', method: req.method!, url: req.url!, authorization: req.headers.authorization, range: req.headers.range})
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
      const start = m && !ignoreRange ? Number(m[1]) : 0
      const body = BLOB.subarray(start)
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': body.length,
        ...(start > 0 ? {'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}`} : {}),
      })
      if (stepCut !== undefined) {
        res.write(body.subarray(0, stepCut), () => setTimeout(() => res.socket?.destroy(), 20))
        return
      }
      if (shortAt !== undefined) {
        res.write(body.subarray(0, Math.max(0, shortAt - start)), () => setTimeout(() => res.socket?.destroy(), 20))
        return
      }
      if (cutAfter !== undefined) {
        const n = cutAfter
        cutAfter = undefined
        res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20))
        return
      }
      res.end(body)
    })
    registry = await listen((req, res) => {
      seen.push({
        origin: 'registry',
        method: req.method!,
        url: req.url!,
        authorization: req.headers.authorization,
        range: req.headers.range,
      })
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, {'www-authenticate': 'Basic realm="test"'}).end()
        return
      }
      if (req.url === `/v2/r/blobs/${DIGEST}`) {
        res.writeHead(307, {location: `${storage.url}/data/blob?sig=1`}).end()
        return
      }
      res.writeHead(404, {'content-type': 'application/json'}).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}')
    })
  })
  after(() => {
    registry.server.closeAllConnections()
    storage.server.closeAllConnections()
    registry.server.close()
    storage.server.close()
  })
  beforeEach(() => {
    seen.length = 0
    cutAfter = undefined
    ignoreRange = false
    shortAt = undefined
    stepCut = undefined
  })

  function reader(): BlobReader {
    const endpoint = {host: new URL(registry.url).host, scheme: 'http' as const, baseUrl: registry.url}
    const client = new RegistryClient(
      endpoint,
      'r',
      new RegistryAuth(endpoint, {kind: 'basic', username: 'u', password: 'p', source: 'test'}),
      {retry: {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5}},
    )
    return new BlobReader(client, {retry: {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5}})
  }

  async function readAll(r: BlobReader, digest = DIGEST): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const c of r.stream(digest)) parts.push(c)
    return Buffer.concat(parts)
  }

  it('answers the auth challenge, follows the redirect, and never sends credentials to the storage origin', async () => {
    expect((await readAll(reader())).equals(BLOB)).to.equal(true)
    expect(seen.filter((s) => s.origin === 'registry').map((s) => Boolean(s.authorization))).to.deep.equal([false, true])
    expect(seen.filter((s) => s.origin === 'storage')).to.have.length(1)
    expect(seen.find((s) => s.origin === 'storage')!.authorization).to.equal(undefined)
  })

  it('resumes a cut download with Range from the byte it reached, through the registry again', async () => {
    cutAfter = 100_000
    expect((await readAll(reader())).equals(BLOB)).to.equal(true)
    const ranges = seen.filter((s) => s.origin === 'storage').map((s) => s.range)
    expect(ranges[0]).to.equal(undefined)
    expect(ranges[1]).to.match(/^bytes=\d+-$/)
    expect(Number(/\d+/.exec(ranges[1]!)![0])).to.be.greaterThan(0)
  })

  it('skips what it already has when the storage ignores Range', async () => {
    cutAfter = 70_000
    ignoreRange = true
    expect((await readAll(reader())).equals(BLOB)).to.equal(true)
  })

  it('throws BlobNotFoundError on 404', async () => {
    const missing = `sha256:${'0'.repeat(64)}`
    let error: unknown
    try {
      await readAll(reader(), missing)
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(BlobNotFoundError)
  })

  it('calls a blob short on every retry, with no byte more, a ShortBlobError: announced N bytes, sent M', async () => {
    for (const ignore of [false, true]) {
      shortAt = 123_456
      ignoreRange = ignore
      const error = await readAll(reader()).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, `ignoreRange ${ignore}`).to.be.instanceOf(ShortBlobError)
      expect(error).to.include({announced: BLOB.length, sent: 123_456, attempts: 4, code: 'E_BLOB_SHORT'})
      expect((error as Error).message).to.equal(
        `GET ${DIGEST.slice(7, 19)}: the registry announced 300000 bytes, sent 123456 (on each of 4 attempts)`,
      )
    }
  })

  it('calls a download cut on every attempt but a little further each time a network failure, not a short blob', async () => {
    stepCut = 10_000
    const error = await readAll(reader()).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(TransportError).and.not.be.instanceOf(ShortBlobError)
    const ranges = seen.filter((x) => x.origin === 'storage').map((x) => x.range)
    expect(ranges).to.deep.equal([undefined, 'bytes=10000-', 'bytes=20000-', 'bytes=30000-'])
  })
})
