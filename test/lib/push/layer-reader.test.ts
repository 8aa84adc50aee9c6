import {expect} from 'chai'
import {HubClient} from '../../../src/lib/hf/client.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {layerSize} from '../../../src/lib/layer/tar.js'
import {LayerReader, RewoundPastStateError} from '../../../src/lib/push/layer-reader.js'
import {SEGMENT_BYTES, SegmentBudget} from '../../../src/lib/push/segments.js'
import type {PlannedFile} from '../../../src/lib/push/plan.js'
import {savedStateOffset} from '../../../src/lib/state/checkpoint.js'
import {fileSha256, startHubSim, treeEntryOid, type HubSim, type SimFile} from '../../fixtures/hub/index.js'

const SHA = 'abcdef0000000000000000000000000000abcdef'
const FILE: SimFile = {path: 'weights/model.safetensors', size: 5 * 1024 * 1024 + 17, lfs: true}

/** Over 64 MiB: read in segments when its share allows. */
const BIG: SimFile = {path: 'big.gguf', size: 70 * 1024 * 1024 + 3, lfs: true}

async function plannedOf(f: SimFile): Promise<PlannedFile> {
  return {path: f.path, size: f.size, oid: await treeEntryOid(f), lfsSha256: await fileSha256(f), layerSize: layerSize(f.path, f.size)}
}

describe('push/layer-reader', () => {
  let hub: HubSim
  let client: HubClient
  let planned: PlannedFile
  let big: PlannedFile
  before(async () => {
    hub = await startHubSim({repos: [{id: 'acme/reader', commits: [{sha: SHA, files: [FILE, BIG]}]}]})
    client = new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 2, idleTimeoutMs: 10_000})
    planned = await plannedOf(FILE)
    big = await plannedOf(BIG)
  })
  after(() => hub?.close())

  const reader = (hashState?: Buffer) =>
    new LayerReader(planned, {hub: client, hfRepo: 'acme/reader', sha: SHA, policy: defaultRetryPolicy}, hashState)

  it('a reader restored from a checkpoint reads only the bytes after it and gives the same digests', async () => {
    const whole = reader()
    await whole.seek(planned.layerSize)
    const expected = whole.digests()
    whole.close()
    expect(expected.contentSha256).to.equal(await fileSha256(FILE))

    for (const at of [0, 100, 512, 3 * 1024 * 1024 + 5, planned.layerSize - 1]) {
      const first = reader()
      await first.seek(at)
      const hashState = first.checkpoint(at)!
      expect(hashState, `checkpoint at ${at}`).to.be.instanceOf(Buffer)
      expect(first.checkpoint(at + 1), 'only at the hashed offset').to.equal(undefined)
      first.close()

      const from = hub.requests.length
      expect(savedStateOffset(hashState)).to.equal(at)
      const second = reader(hashState)
      expect(second.position).to.equal(at)
      await second.seek(planned.layerSize)
      expect(second.digests(), `resumed at ${at}`).to.deep.equal(expected)
      expect(second.reread).to.equal(0)
      const served = hub.requests.slice(from).reduce((n, r) => n + (r.served?.bytes ?? 0), 0)
      expect(served, `bytes read from the Hub after ${at}`).to.be.at.most(planned.layerSize - at)
      second.close()
    }
  })

  it('a state from another format is ignored: the reader starts at 0', () => {
    const r = reader(Buffer.from([9, 9, 9]))
    expect(r.position).to.equal(0)
    expect(r.restoredAt).to.equal(0)
    r.close()
  })

  it('cannot go back before a restored state (the layer restarts instead)', async () => {
    const first = reader()
    await first.seek(4096)
    const hashState = first.checkpoint(4096)!
    first.close()
    const second = reader(hashState)
    let error: unknown
    await second.seek(100).catch((e) => (error = e))
    expect(error).to.be.instanceOf(RewoundPastStateError)
    expect((error as Error).name).to.equal('RewoundPastStateError')
    second.close()
  })
  it('prefetch opens the Hub body before the first read, which then takes it (one request); a reader closed meanwhile drops it', async () => {
    const whole = reader()
    await whole.seek(planned.layerSize)
    const expected = whole.digests()
    whole.close()

    const from = hub.requests.length
    const early = reader()
    early.prefetch()
    early.prefetch() // once only
    for (let i = 0; i < 100 && hub.requests.length === from; i++) await new Promise((r) => setTimeout(r, 5))
    const asked = hub.requests.slice(from)
    expect(asked.length, 'the Hub was asked before any read').to.be.greaterThan(0)
    await early.seek(planned.layerSize)
    expect(early.digests()).to.deep.equal(expected)
    const gets = hub.requests.slice(from).filter((r) => r.method === 'GET' && r.origin === 'cdn')
    expect(gets.length, 'the first read took the prefetched body').to.equal(1)
    early.close()

    const dropped = reader()
    const before = hub.requests.length
    dropped.prefetch()
    dropped.close()
    // Its answer comes after the close: the body is dropped then, so no request stays open at the CDN.
    for (let i = 0; i < 100 && !hub.requests.slice(before).some((r) => r.origin === 'cdn'); i++) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 100))
    const probe = reader()
    await probe.seek(64 * 1024) // past the tar headers: content from the Hub
    probe.close()
    const cdn = hub.requests.slice(before).filter((r) => r.origin === 'cdn')
    expect(cdn.length, 'the prefetch and the probe').to.equal(2)
    expect(cdn[1].inFlight, 'the dropped body holds no request open').to.equal(1)
  })
  it("a prefetch that fails is the first read's first failure: it counts against the retries", async () => {
    // A fresh client each: one that knows the file's CDN location would not ask the Hub first.
    const once = (maxRetries: number) =>
      new LayerReader(planned, {
        hub: new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 2, idleTimeoutMs: 10_000}),
        hfRepo: 'acme/reader',
        sha: SHA,
        policy: {...defaultRetryPolicy, maxRetries, baseDelayMs: 1},
      })
    hub.injectFault({kind: 'status', status: 503, origin: 'hub', times: 1})
    const strict = once(0)
    strict.prefetch()
    const error = await strict.seek(planned.layerSize).catch((e: Error) => e)
    strict.close()
    expect(error).to.be.instanceOf(Error)
    expect(hub.pendingFaults()).to.equal(0)

    hub.injectFault({kind: 'status', status: 503, origin: 'hub', times: 1})
    const patient = once(1)
    patient.prefetch()
    await patient.seek(planned.layerSize)
    expect(patient.digests().contentSha256).to.equal(planned.lfsSha256)
    patient.close()
  })

  it('reads one body while its share is one connection, and segments from where it stands once the share grows', async () => {
    const MiB = 1024 * 1024
    /** Read to `switchAt` over a share of one, then to the end over three; the CDN requests after `from`. */
    const read = async (switchAt: number) => {
      let allowance = 1
      const segments = {ahead: () => allowance, budget: new SegmentBudget()}
      const reader = new LayerReader(big, {hub: client, hfRepo: 'acme/reader', sha: SHA, policy: defaultRetryPolicy, segments})
      const from = hub.requests.length
      await reader.seek(switchAt)
      const before = hub.requests.slice(from).filter((r) => r.origin === 'cdn').length
      allowance = 3 // the other workers ran out of files
      await reader.seek(big.layerSize)
      expect(reader.digests().contentSha256).to.equal(big.lfsSha256)
      reader.close()
      return {before, cdn: hub.requests.slice(from).filter((r) => r.origin === 'cdn')}
    }
    const early = await read(4 * MiB)
    expect(early.before, 'one body').to.equal(1)
    expect(early.cdn[0].headers.range, 'to the end').to.equal(undefined)
    const after = early.cdn.slice(1)
    expect(after.every((r) => /^bytes=\d+-\d*$/.test(String(r.headers.range)))).to.equal(true)
    // The first segment starts where the reader stood: past the bytes it had, at most the rest of one socket read.
    const first = Number(/^bytes=(\d+)-/.exec(String(after[0].headers.range))![1])
    expect(first)
      .to.be.at.least(4 * MiB - 4096)
      .and.at.most(4 * MiB + 128 * 1024)
    expect(after.length, 'segments after the switch').to.equal(Math.ceil((BIG.size - first) / SEGMENT_BYTES))
    // With less left than a file worth segments (64 MiB), new connections would not pay: the body reads on.
    const late = await read(20 * MiB)
    expect(late.cdn.length, 'the one body, to the end').to.equal(1)
  })
})
