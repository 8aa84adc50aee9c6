// The end of a push, off its critical path (push/ahead.ts), seen from the
// wire: a recording proxy in front of a real registry.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {registryClient} from '../../../src/lib/clients.js'
import {HubClient} from '../../../src/lib/hf/client.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {GENERIC, UploadModes} from '../../../src/lib/oci/profiles.js'
import {parseRegistry} from '../../../src/lib/oci/reference.js'
import {executePush, FilesFailedError, type PushDeps} from '../../../src/lib/push/execute.js'
import {PushEvents} from '../../../src/lib/push/events.js'
import {planPush, type PushParams} from '../../../src/lib/push/plan.js'
import {startHubSim, type HubSim, type SimFile} from '../../fixtures/hub/index.js'
import {registryAvailable, startRegistry, type TestRegistry} from '../../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy, type ProxyRequestRecord} from '../../fixtures/registry/proxy.js'
import {requireTools} from '../../fixtures/require-tool.js'

const SHA = 'a4ead00000000000000000000000000000a4ead0'
const FILES: SimFile[] = [
  {path: 'config.json', size: 300},
  {path: 'big.bin', size: 2 * 1024 * 1024 + 7, lfs: true},
  {path: 'mid.bin', size: 300_000, lfs: true},
]

const isBlobHead = (r: ProxyRequestRecord) => r.method === 'HEAD' && r.url.includes('/blobs/sha256:')
const isPost = (r: ProxyRequestRecord) => r.method === 'POST' && r.url.includes('/blobs/uploads/')
const isManifestPut = (r: ProxyRequestRecord) => r.method === 'PUT' && r.url.includes('/manifests/')
const sessionOf = (url: string) => new URL(url, 'http://x').pathname

describe('push/ahead: the config and the layer checks are not on the path to the manifest', function () {
  this.timeout(60_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy
  let hubClient: HubClient

  before(async function () {
    requireTools(this, registryAvailable(), 'docker-registry missing: install it with `apt-get install docker-registry`')
    hub = await startHubSim({repos: [{id: 'acme/ahead', commits: [{sha: SHA, files: FILES}]}]})
    reg = await startRegistry()
    proxy = await startFaultProxy(reg.url)
    hubClient = new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 1, idleTimeoutMs: 10_000})
  })
  afterEach(() => {
    proxy?.clearFaults()
    hub?.clearFaults()
  })
  after(async () => {
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  async function push(targetRepo: string, opts: {failFast?: boolean; afterPlan?: () => void; split?: PushParams['split']} = {}) {
    const registry = parseRegistry(proxy.host)
    const params: PushParams = {
      hfRepo: 'acme/ahead',
      revision: 'main',
      registry,
      targetRepo,
      alsoTags: [],
      include: [],
      exclude: [],
      workers: 2,
      chunkMiB: 1,
      failFast: opts.failFast ?? true,
      uploadMode: 'chunked',
      ...(opts.split ? {split: opts.split} : {}),
    }
    const plan = await planPush(params, hubClient)
    opts.afterPlan?.()
    const deps: PushDeps = {
      // Each push its own client, as in the CLI: a client remembers where files were found.
      hub: new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 1, idleTimeoutMs: 10_000}),
      registry: await registryClient(registry, targetRepo, {env: {}, maxRetries: 1}),
      events: new PushEvents(),
      policy: {...defaultRetryPolicy, maxRetries: 1},
      registryKey: registry.baseUrl,
      modes: new UploadModes('chunked', GENERIC, false),
    }
    const from = proxy.records.length
    const result = await executePush(plan, deps).catch((error: unknown) => error)
    return {result, records: proxy.records.slice(from)}
  }

  it("opens the config's session before the last layer commits, and checks the layers beside the config push", async () => {
    // Every layer's HEAD after commit answers 300 ms late: a push that waited for them would push its config after.
    proxy.injectFault({
      kind: 'hold-answer',
      ms: 300,
      match: (method, path) => method === 'HEAD' && path.includes('/blobs/sha256:'),
      times: 3,
    })
    const {result, records} = await push('ahead/order')
    expect(result).to.have.property('manifestDigest')
    const commits = records.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'))
    expect(commits).to.have.length(4) // three layers and the config
    const config = commits.at(-1)!
    const configPost = records.filter(isPost).find((p) => sessionOf(p.upstreamHeaders!.location as string) === sessionOf(config.url))
    expect(configPost, 'the config went into a session opened by a POST').to.not.equal(undefined)
    const lastLayerCommit = commits.at(-2)!
    expect(configPost!.startedAt, 'the POST came before the last layer was committed').to.be.at.most(lastLayerCommit.startedAt)

    const heads = records.filter(isBlobHead)
    expect(heads).to.have.length(3) // one per uploaded layer, none for the config
    const lastHead = heads.reduce((a, b) => (a.endedAt! > b.endedAt! ? a : b))
    expect(config.startedAt, 'the config was pushed while a layer check was still out').to.be.below(lastHead.endedAt!)
    const manifest = records.find(isManifestPut)!
    expect(manifest.startedAt, 'the manifest came after every check').to.be.at.least(lastHead.endedAt!)
  })

  it('a layer the registry does not hold after its commit fails the push before any manifest', async () => {
    proxy.injectFault({kind: 'status', status: 404, match: (method, path) => method === 'HEAD' && path.includes('/blobs/sha256:')})
    const {result, records} = await push('ahead/missing', {failFast: false})
    expect(result).to.be.instanceOf(FilesFailedError)
    expect((result as FilesFailedError).failures).to.have.length(1)
    expect((result as FilesFailedError).message).to.match(/HEAD does not find it/)
    expect(records.some(isManifestPut)).to.equal(false)
  })

  it('leaves no session open when the push fails before its config: the one opened ahead is given back', async () => {
    const afterPlan = () => hub.injectFault({kind: 'status', status: 404, times: Infinity, match: (p) => p.endsWith('/mid.bin')})
    const {result, records} = await push('ahead/failed', {failFast: false, afterPlan})
    expect(result).to.be.instanceOf(FilesFailedError)
    const posts = records.filter(isPost).map((p) => sessionOf(p.upstreamHeaders!.location as string))
    // big.bin's, config.json's and the config's at least (mid.bin's too if it was opened before the Hub refused).
    expect(posts.length).to.be.at.least(3)
    const closed = new Set(records.filter((r) => r.method === 'PUT' || r.method === 'DELETE').map((r) => sessionOf(r.url)))
    expect(posts.filter((s) => !closed.has(s))).to.deep.equal([])
  })

  it("a split push's last shard writes its partial and its full manifest without a refused config PUT", async () => {
    const {result, records} = await push('ahead/split', {split: {index: 0, count: 1}})
    expect(result).to.have.property('complete', true)
    const puts = records.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'))
    expect(puts).to.have.length(5) // three layers, the partial's config and the image's
    expect(puts.map((r) => r.status)).to.deep.equal([201, 201, 201, 201, 201])
    expect(records.filter(isManifestPut)).to.have.length(2)
  })

  it('pushes a blob into a fresh session when the one opened ahead is gone or never opened', async () => {
    const client = await registryClient(parseRegistry(reg.host), 'ahead/blob', {env: {}, maxRetries: 1})
    for (const [i, opened] of [
      client.startUpload().then(async (s) => (await client.cancelUpload(s.location), s)),
      Promise.reject(new Error('the POST failed')),
    ].entries()) {
      opened.catch(() => undefined)
      const bytes = Buffer.from(`{"n":${i}}`)
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
      await client.pushBlob(bytes, digest, opened)
      await client.checkBlob(digest, bytes.length)
    }
  })
})
