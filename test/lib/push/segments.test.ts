import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {expect} from 'chai'
import {HubClient} from '../../../src/lib/hf/client.js'
import type {RawResponse} from '../../../src/lib/http/raw.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {layerSize} from '../../../src/lib/layer/tar.js'
import {LayerReader} from '../../../src/lib/push/layer-reader.js'
import type {PlannedFile} from '../../../src/lib/push/plan.js'
import {SEGMENT_BYTES, SEGMENT_MEMORY, SegmentedBody, SEGMENTED_MIN_BYTES, SEGMENTS_AHEAD} from '../../../src/lib/push/segments.js'
import {fileSha256, startHubSim, treeEntryOid, type HubSim, type SimFile} from '../../fixtures/hub/index.js'

const MiB = 1024 * 1024
const SHA = '5e65e65e65e65e65e65e65e65e65e65e65e65e60'
const BIG: SimFile = {path: 'model.safetensors', size: 100 * MiB + 12_345, lfs: true}

describe('push/segments: one file over several Hub connections', () => {
  it('states its bounds: 4 segments of 8 MiB (32 MiB per file), only for files over 64 MiB', () => {
    expect([SEGMENT_BYTES, SEGMENTS_AHEAD, SEGMENT_MEMORY, SEGMENTED_MIN_BYTES]).to.deep.equal([4 * MiB, 3, 12 * MiB, 64 * MiB])
  })

  it('hands bytes on in order while at most SEGMENTS_AHEAD segments are held or in flight', async () => {
    const data = Buffer.alloc(45 * MiB + 3)
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
      return {status: 206, headers: {}, body, url: new URL('http://x/')} as unknown as RawResponse
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
