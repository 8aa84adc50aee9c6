// A lossy link to a registry that cancels an upload session when a PATCH is
// cut mid-body (CNCF distribution does). With 5% of upload requests cut and
// another 5% failing, a layer of 48 PATCHes rarely gets through one session:
// --upload-mode auto learns that cuts cancel sessions here, goes on in one
// streamed PATCH per layer, remembers it, and the image is the same as an
// unfaulted push's.
import {expect} from 'chai'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy} from '../fixtures/registry/proxy.js'
import {expectImageHolds, killStrayClis, outputValue, requireRealTools, runCli, tempStateDb} from './helpers.js'

const MiB = 1024 * 1024
const SHA = '1055e1055e1055e1055e1055e1055e1055e10550'
const OTHER_SHA = '2055e1055e1055e1055e1055e1055e1055e10550'
const FILES: SimFile[] = [
  {path: 'config.json', size: 40},
  {path: 'model-00001-of-00002.safetensors', size: 48 * MiB, lfs: true},
  {path: 'model-00002-of-00002.safetensors', size: 48 * MiB + 4099, lfs: true},
]

/** Deterministic "random" so a failure can be replayed. */
function chance(seed: number, p: number): () => boolean {
  let s = seed
  return () => (s = (s * 48271) % 2147483647) / 2147483647 < p
}

const isUpload = (method: string, path: string) => path.includes('/blobs/uploads/') && method !== 'GET'

describe('e2e: a lossy link to a registry that cancels cut sessions', function () {
  this.timeout(180_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      repos: [
        {id: 'acme/lossy', commits: [{sha: SHA, files: FILES}]},
        {id: 'acme/other', commits: [{sha: OTHER_SHA, files: [{path: 'weights.bin', size: 3 * MiB + 1, lfs: true}]}]},
      ],
    })
    reg = await startRegistry()
    proxy = await startFaultProxy(reg.url)
  })
  afterEach(() => {
    killStrayClis()
    proxy?.clearFaults()
  })
  after(async () => {
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  it('auto mode converges with 5% of upload requests cut mid-body and 5% failing; the next push starts in stream mode', async () => {
    const push = (registry: string, repo: string, db: string, hfRepo = 'acme/lossy') =>
      runCli(
        [
          'push',
          '--hf-repo',
          hfRepo,
          '--registry',
          registry,
          '--target-repo',
          repo,
          '--upload-mode',
          'auto',
          '--chunk-mib',
          '1',
          '--workers',
          '2',
          '--verbose',
        ],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db},
        {timeoutMs: 150_000},
      )
    const reference = await push(reg.host, 'lossy/plain', tempStateDb())
    expect(reference.code, reference.stderr).to.equal(0)

    // The first PATCH after the first session's start is cut for certain, then 5% cut and 5% failing at random.
    const cut = chance(7, 0.05)
    const fail = chance(8, 0.05)
    let patches = 0
    proxy.injectFault({kind: 'reset', afterBytes: 300 * 1024, match: (m, p) => m === 'PATCH' && isUpload(m, p) && ++patches === 2})
    proxy.injectFault({kind: 'reset', afterBytes: 300 * 1024, times: Infinity, match: (m, p) => m === 'PATCH' && isUpload(m, p) && cut()})
    proxy.injectFault({kind: 'status', status: 503, retryAfter: 0, times: Infinity, match: (m, p) => isUpload(m, p) && fail()})
    const db = tempStateDb()
    const res = await push(proxy.host, 'lossy/faulted', db)
    expect(res.code, res.stderr.slice(-3000)).to.equal(0)
    expect(outputValue(res.stdout, 'MANIFESTDIGEST')).to.equal(outputValue(reference.stdout, 'MANIFESTDIGEST'))
    const records = proxy.records
    expect(records.filter((r) => r.fault === 'reset').length, 'PATCHes cut').to.be.greaterThan(0)
    expect(records.filter((r) => r.fault === 'status').length, 'upload requests failed').to.be.greaterThan(0)
    // A cut session was cancelled by the registry (its GET answered 404), and then the layers went in one PATCH each.
    expect(records.some((r) => r.method === 'GET' && r.url.includes('/blobs/uploads/') && r.status === 404)).to.equal(true)
    expect(res.stderr).to.match(/cancelled the upload session after a PATCH was cut/)
    const streamed = records.filter((r) => r.method === 'PATCH' && r.headers['content-range'] === undefined && r.upstreamStatus === 202)
    expect(
      streamed.some((r) => r.forwardedBytes > 48 * MiB),
      'a whole layer in one PATCH',
    ).to.equal(true)
    await expectImageHolds(`${reg.host}/lossy/faulted:${SHA.slice(0, 12)}`, FILES)

    // Remembered for this registry: the next push (new blobs) sends no chunked PATCH at all.
    proxy.clearFaults()
    const from = proxy.records.length
    const again = await push(proxy.host, 'lossy/again', db, 'acme/other')
    expect(again.code, again.stderr).to.equal(0)
    const next = proxy.records.slice(from).filter((r) => r.method === 'PATCH')
    expect(next.length).to.be.greaterThan(0)
    expect(next.every((r) => r.headers['content-range'] === undefined)).to.equal(true)
  })
})
