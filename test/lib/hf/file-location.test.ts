// HubClient.openFile remembers where the Hub's redirect led (the CDN's signed
// URL) and sends a file's later ranges there straight; an expired location
// sends it back to the Hub. Against the Hub simulator, whose CDN checks its
// signatures and their expiry as CloudFront does.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {HubClient} from '../../../src/lib/hf/client.js'
import {giveBack} from '../../../src/lib/http/read-arenas.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {layerSize} from '../../../src/lib/layer/tar.js'
import {LayerReader} from '../../../src/lib/push/layer-reader.js'
import {SEGMENT_BYTES} from '../../../src/lib/push/segments.js'
import {fileContent, fileSha256, startHubSim, treeEntryOid, type HubSim, type SimFile} from '../../fixtures/hub/index.js'

const MiB = 1024 * 1024
const SHA = '10ca7ed10ca7ed10ca7ed10ca7ed10ca7ed10ca7'
const BIG: SimFile = {path: 'weights/model.safetensors', size: 10 * SEGMENT_BYTES + 77, lfs: true}
const TOKEN = 'hf_location_test_token'

describe('hf/client: the CDN location of a file', () => {
  let hub: HubSim
  before(async () => {
    hub = await startHubSim({repos: [{id: 'acme/located', commits: [{sha: SHA, files: [BIG]}], gated: true}], tokens: [TOKEN]})
  })
  after(() => hub?.close())

  const hubFile = async () => ({path: BIG.path, size: BIG.size, oid: await treeEntryOid(BIG), lfsSha256: await fileSha256(BIG)})

  it("asks the Hub for a file's first segments only; the rest go to the CDN straight, without the token", async () => {
    const client = new HubClient(new URL(hub.endpoint), {value: TOKEN, source: 'test'}, {maxRetries: 3, idleTimeoutMs: 10_000})
    const file = await hubFile()
    const from = hub.requests.length
    const reader = new LayerReader(
      {...file, layerSize: layerSize(BIG.path, BIG.size)},
      {hub: client, hfRepo: 'acme/located', sha: SHA, policy: defaultRetryPolicy},
    )
    await reader.seek(layerSize(BIG.path, BIG.size))
    expect(reader.digests().contentSha256).to.equal(file.lfsSha256)
    reader.close()
    const seen = hub.requests.slice(from)
    const resolves = seen.filter((r) => r.origin === 'hub' && r.url.includes('/resolve/'))
    const cdn = seen.filter((r) => r.origin === 'cdn')
    expect(cdn.length, 'one CDN request per segment').to.equal(Math.ceil(BIG.size / SEGMENT_BYTES))
    // The first wave of segments starts together: they wait for the first one's lookup.
    expect(resolves.length, 'the Hub, once for the whole file').to.equal(1)
    expect(resolves.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).to.equal(true)
    expect(
      cdn.some((r) => r.headers.authorization !== undefined),
      'no credentials to the CDN',
    ).to.equal(false)
  })

  it('ranges opened while a lookup is in flight wait for it; when it fails they ask the Hub themselves', async () => {
    const client = new HubClient(new URL(hub.endpoint), {value: TOKEN, source: 'test'}, {maxRetries: 0, idleTimeoutMs: 10_000})
    const file = await hubFile()
    const bytes = async (res: Awaited<ReturnType<HubClient['openFile']>>) => {
      let n = 0
      for await (const piece of res.body as AsyncIterable<Buffer>) {
        n += piece.length
        giveBack(piece)
      }
      return n
    }
    hub.injectFault({kind: 'status', status: 503, origin: 'hub', match: (p) => p.includes('/resolve/')})
    const from = hub.requests.length
    const [first, second] = await Promise.allSettled([
      client.openFile('acme/located', SHA, file, 0, undefined, MiB),
      client.openFile('acme/located', SHA, file, MiB, undefined, 2 * MiB),
    ])
    expect(first.status, 'the lookup that met the 503').to.equal('rejected')
    expect(second.status).to.equal('fulfilled')
    expect(await bytes((second as PromiseFulfilledResult<Awaited<ReturnType<HubClient['openFile']>>>).value)).to.equal(MiB)
    const origins = hub.requests.slice(from).map((r) => r.origin)
    expect(origins, 'the failed lookup, then the waiting range asks itself').to.deep.equal(['hub', 'hub', 'cdn'])
  })

  it('a range waiting for a lookup stops as soon as its signal aborts', async () => {
    const client = new HubClient(new URL(hub.endpoint), {value: TOKEN, source: 'test'}, {maxRetries: 0, idleTimeoutMs: 10_000})
    const file = await hubFile()
    hub.injectFault({kind: 'delay', ms: 1500, origin: 'cdn'})
    const slow = client.openFile('acme/located', SHA, file, 0, undefined, MiB)
    await new Promise((r) => setTimeout(r, 50)) // the lookup is in flight
    const t0 = Date.now()
    const waiting = client.openFile('acme/located', SHA, file, MiB, AbortSignal.timeout(100), 2 * MiB)
    const outcome = await waiting.then(
      () => 'opened',
      (error: Error) => error.name,
    )
    expect(outcome).to.equal('TimeoutError')
    expect(Date.now() - t0, 'well before the lookup answers').to.be.below(1000)
    const res = await slow
    for await (const piece of res.body as AsyncIterable<Buffer>) giveBack(piece)
  })

  it('goes back to the Hub once the remembered location has expired, and reads the right bytes', async () => {
    const shortLived = await startHubSim({repos: [{id: 'acme/located', commits: [{sha: SHA, files: [BIG]}]}], cdnUrlTtlSeconds: 1})
    try {
      const client = new HubClient(new URL(shortLived.endpoint), undefined, {maxRetries: 3, idleTimeoutMs: 10_000})
      const file = await hubFile()
      const read = async (start: number, end: number) => {
        const res = await client.openFile('acme/located', SHA, file, start, undefined, end)
        const hash = createHash('sha256')
        for await (const piece of res.body as AsyncIterable<Buffer>) {
          hash.update(piece)
          giveBack(piece)
        }
        return hash.digest('hex')
      }
      const want = async (start: number, end: number) => {
        const hash = createHash('sha256')
        for await (const piece of fileContent(BIG, start, end)) hash.update(piece as Buffer)
        return hash.digest('hex')
      }
      expect(await read(0, MiB)).to.equal(await want(0, MiB))
      const from = shortLived.requests.length
      expect(await read(MiB, 2 * MiB), 'straight to the CDN while the signature holds').to.equal(await want(MiB, 2 * MiB))
      expect(shortLived.requests.slice(from).map((r) => r.origin)).to.deep.equal(['cdn'])
      // Expires is whole seconds, a TTL of 1 s from the first redirect: 2.1 s later it has passed.
      await new Promise((r) => setTimeout(r, 2100))
      const again = shortLived.requests.length
      expect(await read(2 * MiB, 3 * MiB)).to.equal(await want(2 * MiB, 3 * MiB))
      expect(
        shortLived.requests.slice(again).map((r) => r.origin),
        'the expired location (403), the Hub, the new location',
      ).to.deep.equal(['cdn', 'hub', 'cdn'])
    } finally {
      await shortLived.close()
    }
  })
})
