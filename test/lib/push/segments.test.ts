import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {expect} from 'chai'
import {HubClient} from '../../../src/lib/hf/client.js'
import type {RawResponse} from '../../../src/lib/http/raw.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {layerSize} from '../../../src/lib/layer/tar.js'
import {LayerReader} from '../../../src/lib/push/layer-reader.js'
import type {PlannedFile} from '../../../src/lib/push/plan.js'
import {
  MAX_SEGMENTS_AHEAD,
  PUSH_SEGMENT_MEMORY,
  SEGMENT_BYTES,
  SegmentBudget,
  SegmentedBody,
  SEGMENTED_MIN_BYTES,
  SegmentShares,
  SEGMENTS_AHEAD,
} from '../../../src/lib/push/segments.js'
import {fileSha256, startHubSim, treeEntryOid, type HubSim, type SimFile} from '../../fixtures/hub/index.js'

const MiB = 1024 * 1024
const SHA = '5e65e65e65e65e65e65e65e65e65e65e65e65e60'
const BIG: SimFile = {path: 'model.safetensors', size: 100 * MiB + 12_345, lfs: true}

describe('push/segments: one file over several Hub connections', () => {
  it('states its bounds: 3 segments of 8 MiB holding 4 MiB ahead per push, only for files over 64 MiB; one file lent idle shares opens at most 12', () => {
    expect([SEGMENT_BYTES, SEGMENTS_AHEAD, PUSH_SEGMENT_MEMORY, SEGMENTED_MIN_BYTES, MAX_SEGMENTS_AHEAD]).to.deep.equal([
      8 * MiB,
      3,
      4 * MiB,
      64 * MiB,
      12,
    ])
  })

  it('hands bytes on in order while at most SEGMENTS_AHEAD segments are held or in flight', async () => {
    const data = Buffer.alloc(5 * SEGMENT_BYTES + 3)
    for (let i = 0; i + 4 <= data.length; i += 4096) data.writeUInt32BE(i >>> 0, i)
    let open = 0
    let most = 0
    const ranges: Array<[number, number]> = []
    // Segments answer out of order (later ones sooner), in small pieces.
    const source = async (start: number, end: number): Promise<RawResponse> => {
      ranges.push([start, end])
      most = Math.max(most, ++open)
      await new Promise((r) => setTimeout(r, 5 + (2 - (Math.floor(start / SEGMENT_BYTES) % 3)) * 5))
      const body = Readable.from(
        (function* () {
          for (let at = start; at < end; at += 64 * 1024) yield data.subarray(at, Math.min(end, at + 64 * 1024))
        })(),
      )
      body.on('end', () => open--)
      return {status: 206, headers: {}, body, url: new URL('http://x/')}
    }
    const body = new SegmentedBody(source, 3 * MiB, data.length)
    const hash = createHash('sha256')
    let n = 0
    for (let next = await body.next(); !next.done; next = await body.next()) {
      hash.update(next.value)
      n += next.value.length
      // the reader is slow: segments pile up only to the bound
      if (n % (4 * MiB) < 64 * 1024) await new Promise((r) => setTimeout(r, 10))
    }
    expect(n).to.equal(data.length - 3 * MiB)
    expect(hash.digest('hex')).to.equal(
      createHash('sha256')
        .update(data.subarray(3 * MiB))
        .digest('hex'),
    )
    expect(most).to.be.at.most(SEGMENTS_AHEAD).and.greaterThan(1)
    expect(ranges[0]).to.deep.equal([3 * MiB, 3 * MiB + SEGMENT_BYTES])
    expect(ranges.every(([s, e]) => e - s <= SEGMENT_BYTES)).to.equal(true)
    expect(ranges.at(-1)![1]).to.equal(data.length)
  })

  it('the push reads over max(workers, 3) Hub connections, one or more per file; idle workers lend theirs to the largest file', () => {
    const alone = new SegmentShares(1)
    expect(alone.join('one.bin', 900 * MiB).ahead(), '--workers 1: a file reads over SEGMENTS_AHEAD').to.equal(SEGMENTS_AHEAD)
    const shares = new SegmentShares(4)
    const small = shares.join('a.bin', 100 * MiB)
    const big = shares.join('b.bin', 900 * MiB)
    // two running share the push's 4; the two idle workers' shares go to the largest running file only
    expect([small.ahead(), big.ahead()]).to.deep.equal([2, 2 + 2 * SEGMENTS_AHEAD])
    const c = shares.join('c.bin', 50 * MiB)
    const d = shares.join('d.bin', 50 * MiB)
    // every worker busy: the link is shared by four uploads, each file one body
    expect([small, big, c, d].map((s) => s.ahead())).to.deep.equal([1, 1, 1, 1])
    c.leave()
    d.leave()
    big.leave()
    expect(small.ahead(), 'the last file running takes every share, up to the per-file cap').to.equal(MAX_SEGMENTS_AHEAD)
    const wide = new SegmentShares(8)
    expect(wide.join('only.bin', 1).ahead()).to.equal(MAX_SEGMENTS_AHEAD)
  })

  it('a body whose allowance grows opens more segments at once, and still hands every byte on in order', async () => {
    const data = Buffer.alloc(15 * SEGMENT_BYTES)
    for (let i = 0; i + 4 <= data.length; i += 4096) data.writeUInt32BE(i >>> 0, i)
    let open = 0
    const mostAt: number[] = []
    const source = async (start: number, end: number): Promise<RawResponse> => {
      open++
      await new Promise((r) => setTimeout(r, 15))
      const body = Readable.from([data.subarray(start, end)])
      body.on('end', () => open--)
      return {status: 206, headers: {}, body, url: new URL('http://x/')}
    }
    let allowance = SEGMENTS_AHEAD
    const body = new SegmentedBody(source, 0, data.length, undefined, () => allowance)
    const hash = createHash('sha256')
    let n = 0
    for (let next = await body.next(); !next.done; next = await body.next()) {
      hash.update(next.value)
      n += next.value.length
      mostAt.push(open)
      if (n === 4 * SEGMENT_BYTES) allowance = 3 * SEGMENTS_AHEAD // the other workers ran out of files
    }
    expect(n).to.equal(data.length)
    expect(hash.digest('hex')).to.equal(createHash('sha256').update(data).digest('hex'))
    expect(Math.max(...mostAt.slice(0, 4)), 'before: its own share').to.be.at.most(SEGMENTS_AHEAD)
    expect(Math.max(...mostAt.slice(4)), 'after: the lent shares')
      .to.be.greaterThan(SEGMENTS_AHEAD)
      .and.at.most(3 * SEGMENTS_AHEAD)
  })

  it('two files share one push-wide budget: segments ahead hold at most that (plus a piece each), the heads always stream', async () => {
    const data = Buffer.alloc(40 * MiB)
    for (let i = 0; i + 4 <= data.length; i += 4096) data.writeUInt32BE(i >>> 0, i)
    const PIECE = 64 * 1024
    // Answers at once, in 64 KiB pieces, each read only when asked for (as a socket that TCP holds back).
    const source = async (start: number, end: number): Promise<RawResponse> => {
      const body = Readable.from(
        (function* () {
          for (let at = start; at < end; at += PIECE) yield data.subarray(at, Math.min(end, at + PIECE))
        })(),
        {highWaterMark: 1, objectMode: true},
      )
      return {status: 206, headers: {}, body, url: new URL('http://x/')}
    }
    const budget = new SegmentBudget(2 * MiB)
    let most = 0
    const readAll = async (body: SegmentedBody) => {
      const hash = createHash('sha256')
      for (let next = await body.next(); !next.done; next = await body.next()) {
        hash.update(next.value)
        most = Math.max(most, budget.held)
        // a slow reader: the segments ahead fill the budget and must wait
        await new Promise((r) => setImmediate(r))
      }
      return hash.digest('hex')
    }
    const whole = createHash('sha256').update(data).digest('hex')
    const [a, b] = await Promise.all([
      readAll(new SegmentedBody(source, 0, data.length, undefined, () => SEGMENTS_AHEAD, budget)),
      readAll(new SegmentedBody(source, 0, data.length, undefined, () => SEGMENTS_AHEAD, budget)),
    ])
    expect([a, b]).to.deep.equal([whole, whole])
    expect(most, 'held across both files').to.be.at.most(2 * MiB + 2 * SEGMENTS_AHEAD * PIECE)
    expect(most, 'the budget was used').to.be.greaterThan(MiB)
    expect(budget.held, 'everything handed on was given back').to.equal(0)
  })

  it('a dropped body gives its held bytes back to the budget and stops reading', async () => {
    const budget = new SegmentBudget(MiB)
    let destroyed = 0
    const source = async (start: number, end: number): Promise<RawResponse> => {
      const body = Readable.from(
        (function* () {
          for (let at = start; at < end; at += 64 * 1024) yield Buffer.alloc(Math.min(64 * 1024, end - at))
        })(),
        {highWaterMark: 1, objectMode: true},
      )
      body.on('close', () => destroyed++)
      return {status: 206, headers: {}, body, url: new URL('http://x/')}
    }
    const body = new SegmentedBody(source, 0, SEGMENTS_AHEAD * SEGMENT_BYTES, undefined, () => SEGMENTS_AHEAD, budget)
    await body.next()
    for (let i = 0; i < 50 && budget.held < MiB; i++) await new Promise((r) => setTimeout(r, 5))
    expect(budget.held).to.be.at.least(MiB)
    body.destroy()
    for (let i = 0; i < 50 && destroyed < SEGMENTS_AHEAD; i++) await new Promise((r) => setTimeout(r, 5))
    expect(budget.held).to.equal(0)
    expect(destroyed, 'every segment body closed').to.equal(SEGMENTS_AHEAD)
  })

  it('MAX_SEGMENTS_AHEAD segments in flight at once raise no listener-leak warning', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      const controllers: AbortSignal[] = []
      const source = async (start: number, end: number, signal: AbortSignal): Promise<RawResponse> => {
        signal.addEventListener('abort', () => undefined) // as each request does
        controllers.push(signal)
        await new Promise((r) => setTimeout(r, 20))
        return {
          status: 206,
          headers: {},
          body: Readable.from([Buffer.alloc(end - start)]),
          url: new URL('http://x/'),
        }
      }
      const body = new SegmentedBody(source, 0, MAX_SEGMENTS_AHEAD * SEGMENT_BYTES, undefined, () => MAX_SEGMENTS_AHEAD)
      await body.next()
      body.destroy()
      await new Promise((r) => setImmediate(r))
      expect(controllers.length).to.equal(MAX_SEGMENTS_AHEAD)
      expect(warnings).to.deep.equal([])
    } finally {
      process.off('warning', onWarning)
    }
  })

  describe('through the Hub simulator', () => {
    let hub: HubSim
    let client: HubClient
    let planned: PlannedFile
    before(async () => {
      hub = await startHubSim({repos: [{id: 'acme/segments', commits: [{sha: SHA, files: [BIG]}]}]})
      client = new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 3, idleTimeoutMs: 10_000})
      const [oid, lfsSha256] = [await treeEntryOid(BIG), await fileSha256(BIG)]
      planned = {path: BIG.path, size: BIG.size, oid, lfsSha256, layerSize: layerSize(BIG.path, BIG.size)}
    })
    afterEach(() => hub.injectFault({kind: 'status', status: 200, times: 0}))
    after(() => hub?.close())

    const readAll = async () => {
      const from = hub.requests.length
      const policy = {...defaultRetryPolicy, baseDelayMs: 10}
      const reader = new LayerReader(planned, {hub: client, hfRepo: 'acme/segments', sha: SHA, policy})
      await reader.seek(planned.layerSize)
      const digests = reader.digests()
      reader.close()
      return {digests, requests: hub.requests.slice(from).filter((r) => r.origin === 'cdn')}
    }

    it("reads a large file in bounded ranged GETs and gives the file's sha256", async () => {
      const {digests, requests} = await readAll()
      expect(digests.contentSha256).to.equal(planned.lfsSha256)
      expect(requests.length).to.equal(Math.ceil(BIG.size / SEGMENT_BYTES))
      // bounded ranges; the last one runs to the end of the file
      expect(requests.slice(0, -1).every((r) => /^bytes=\d+-\d+$/.test(String(r.headers.range)))).to.equal(true)
      expect(requests.at(-1)!.headers.range).to.match(/^bytes=\d+-$/)
      const served = requests.reduce((n, r) => n + (r.served?.bytes ?? 0), 0)
      expect(served).to.equal(BIG.size)
    })

    it('a cut segment is read again from where the reader stands; a Hub that ignores Range gets one body', async () => {
      const whole = await readAll()
      hub.injectFault({kind: 'cut', afterBytes: 3 * MiB, origin: 'cdn', match: () => true})
      const cut = await readAll()
      expect(cut.digests).to.deep.equal(whole.digests)
      expect(cut.requests.length).to.be.greaterThan(whole.requests.length)

      hub.injectFault({kind: 'ignore-range', origin: 'cdn'})
      const ignored = await readAll()
      expect(ignored.digests).to.deep.equal(whole.digests)
      expect(
        ignored.requests.some((r) => r.headers.range === undefined),
        'one body without Range',
      ).to.equal(true)
    })
  })
})
