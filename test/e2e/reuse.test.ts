// Only what changed moves, from a fresh machine: the registry's manifests (the
// target's tags, --from-image) say which layers exist; each is HEADed or
// mounted before the new manifest references it. Byte counts come from what
// the Hub simulator served and what the proxy in front of the registry received.
import {expect} from 'chai'
import {fileSha256, startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy} from '../fixtures/registry/proxy.js'
import {layerSize} from '../../src/lib/layer/tar.js'
import {MAX_MANIFEST_READS} from '../../src/lib/push/discover.js'
import {expectImageHolds, killStrayClis, requireRealTools, runCli, tempStateDb} from './helpers.js'

const MiB = 1024 * 1024
const OLD = 'aaaa000000000000000000000000000000000001'
const NEW = 'bbbb000000000000000000000000000000000002'
const BEFORE: SimFile[] = [
  {path: 'model-00001-of-00004.safetensors', size: 3 * MiB + 1, lfs: true},
  {path: 'model-00002-of-00004.safetensors', size: 3 * MiB + 2, lfs: true},
  {path: 'model-00003-of-00004.safetensors', size: 3 * MiB + 3, lfs: true},
  {path: 'model-00004-of-00004.safetensors', size: 2 * MiB + 4, lfs: true},
  {path: 'config.json', size: 2000},
]
const CHANGED = 'model-00002-of-00004.safetensors'
const AFTER: SimFile[] = BEFORE.map((f) => (f.path === CHANGED ? {...f, seed: 'changed'} : f))
const changed = AFTER.find((f) => f.path === CHANGED)!

interface JsonFile {
  path: string
  digest: string
  outcome: string
  from?: string
  reuseFrom?: string | null
}

describe('e2e: only what changed moves (registry as source of truth)', function () {
  this.timeout(240_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      repos: [
        {
          id: 'acme/evolving',
          commits: [
            {sha: OLD, files: BEFORE},
            {sha: NEW, files: AFTER},
          ],
        },
      ],
    })
    reg = await startRegistry()
    proxy = await startFaultProxy(reg.url)
  })
  afterEach(() => killStrayClis())
  after(async () => {
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  const env = () => ({HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: tempStateDb()})
  const pushArgs = (repo: string, sha: string, ...more: string[]) => [
    'push',
    '--hf-repo',
    'acme/evolving',
    '--hf-revision',
    sha,
    '--registry',
    proxy.host,
    '--target-repo',
    repo,
    '--json',
    ...more,
  ]
  async function pushJson(args: string[]) {
    const run = await runCli(args, env())
    expect(run.code, run.stderr).to.equal(0)
    return JSON.parse(run.stdout) as {manifestDigest: string; files: JsonFile[]; complete?: boolean; waitingFor?: number[]}
  }
  /** Request bodies the registry received (PATCH and PUT: layers, configs, manifests) since record `from`. */
  const uploadedSince = (from: number) =>
    proxy.records.slice(from).reduce((n, r) => n + (r.method === 'PATCH' || r.method === 'PUT' ? r.requestBytes : 0), 0)
  const hubServedSince = (from: number) => hub.requests.slice(from).reduce((n, r) => n + (r.served?.bytes ?? 0), 0)
  const outcomes = (files: JsonFile[]) => Object.fromEntries(files.map((f) => [f.path, f.outcome]))

  it('a new revision from a fresh state db reads and uploads only the changed file; dry-run says so first', async () => {
    await pushJson(pushArgs('evolving/model', OLD))

    const dry = await runCli(pushArgs('evolving/model', NEW, '--dry-run'), env())
    expect(dry.code, dry.stderr).to.equal(0)
    const plan = JSON.parse(dry.stdout) as {files: JsonFile[]; discovery: {manifestsRead: number}}
    expect(plan.discovery.manifestsRead).to.be.greaterThan(0)
    for (const f of plan.files) {
      expect(f.reuseFrom, f.path).to.equal(f.path === CHANGED ? null : `evolving/model:${OLD.slice(0, 12)}`)
    }
    const human = await runCli(
      pushArgs('evolving/model', NEW, '--dry-run').filter((a) => a !== '--json'),
      env(),
    )
    expect(human.stdout).to.match(new RegExp(`config\\.json .*reuse evolving/model:${OLD.slice(0, 12)}`))
    expect(human.stdout).to.match(/model-00002-of-00004\.safetensors .*upload/)
    expect(human.stdout).to.include('4 of 5 files would be reused')

    const from = proxy.records.length
    const hubFrom = hub.requests.length
    const result = await pushJson(pushArgs('evolving/model', NEW))
    const manifestReads = proxy.records.slice(from).filter((r) => r.method === 'GET' && r.url.includes('/manifests/'))
    expect(manifestReads.length, 'manifest reads').to.be.within(1, MAX_MANIFEST_READS)
    const served = hubServedSince(hubFrom)
    const uploaded = uploadedSince(from)
    expect(served, 'bytes the Hub served').to.be.at.most(changed.size * 1.1)
    expect(uploaded, 'bytes the registry received').to.be.at.least(layerSize(changed.path, changed.size))
    expect(uploaded, 'bytes the registry received').to.be.at.most(layerSize(changed.path, changed.size) * 1.1)
    expect(outcomes(result.files)).to.deep.equal(Object.fromEntries(AFTER.map((f) => [f.path, f.path === CHANGED ? 'uploaded' : 'exists'])))
    await expectImageHolds(`${proxy.host}/evolving/model:${NEW.slice(0, 12)}`, AFTER, {manifestDigest: result.manifestDigest})
  })

  it('discovery reads at most MAX_MANIFEST_READS manifests however many tags the repository has', async () => {
    const first = await pushJson(pushArgs('evolving/many', OLD))
    const accept = {accept: 'application/vnd.oci.image.manifest.v1+json'}
    const body = await (await fetch(`${reg.url}/v2/evolving/many/manifests/${first.manifestDigest}`, {headers: accept})).text()
    for (let i = 0; i < MAX_MANIFEST_READS + 8; i++) {
      const tag = (0xabc0000 + i).toString(16)
      const put = await fetch(`${reg.url}/v2/evolving/many/manifests/${tag}`, {
        method: 'PUT',
        headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json'},
        body,
      })
      expect(put.status).to.equal(201)
    }
    const from = proxy.records.length
    const dry = await runCli(pushArgs('evolving/many', NEW, '--dry-run'), env())
    expect(dry.code, dry.stderr).to.equal(0)
    expect(JSON.parse(dry.stdout).discovery.manifestsRead).to.equal(MAX_MANIFEST_READS)
    const reads = proxy.records.slice(from).filter((r) => r.method === 'GET' && r.url.includes('/manifests/'))
    expect(reads).to.have.length(MAX_MANIFEST_READS)
  })

  it('a registry that refuses tag listing is skipped silently; the named tags are still read', async () => {
    await pushJson(pushArgs('evolving/nolist', OLD, '--target-tag', 'stable'))
    proxy.injectFault({
      kind: 'status',
      status: 405,
      body: JSON.stringify({errors: [{code: 'UNSUPPORTED', message: 'no listing here'}]}),
      match: (method, path) => method === 'GET' && path.endsWith('/tags/list'),
      times: Infinity,
    })
    try {
      const from = proxy.records.length
      const run = await runCli(pushArgs('evolving/nolist', NEW, '--target-tag', 'stable', '--verbose'), env())
      expect(run.code, run.stderr).to.equal(0)
      expect(run.stderr).to.match(/discovery: tag listing of evolving\/nolist skipped: .*405/)
      const result = JSON.parse(run.stdout) as {files: JsonFile[]}
      expect(outcomes(result.files)).to.deep.equal(
        Object.fromEntries(AFTER.map((f) => [f.path, f.path === CHANGED ? 'uploaded' : 'exists'])),
      )
      expect(uploadedSince(from)).to.be.at.most(layerSize(changed.path, changed.size) * 1.1)
    } finally {
      proxy.clearFaults()
    }
  })

  it('--from-image in another repository: unchanged layers are mounted, not uploaded', async () => {
    const source = await pushJson(pushArgs('evolving/release-1', OLD))
    const from = proxy.records.length
    const hubFrom = hub.requests.length
    const result = await pushJson(
      pushArgs('evolving/release-2', NEW, '--from-image', `${proxy.host}/evolving/release-1:${OLD.slice(0, 12)}`),
    )
    expect(hubServedSince(hubFrom)).to.be.at.most(changed.size * 1.1)
    expect(uploadedSince(from)).to.be.at.most(layerSize(changed.path, changed.size) * 1.1)
    const mounts = proxy.records.slice(from).filter((r) => r.method === 'POST' && r.url.includes('mount='))
    expect(mounts.filter((r) => r.status === 201)).to.have.length(4)
    expect(outcomes(result.files)).to.deep.equal(
      Object.fromEntries(AFTER.map((f) => [f.path, f.path === CHANGED ? 'uploaded' : 'mounted'])),
    )
    const old = new Map(source.files.map((f) => [f.path, f.digest]))
    for (const f of result.files) if (f.path !== CHANGED) expect(f.digest).to.equal(old.get(f.path))
    await expectImageHolds(`${proxy.host}/evolving/release-2:${NEW.slice(0, 12)}`, AFTER, {manifestDigest: result.manifestDigest})
  })

  it('--from-image naming an index (--modelpack) reads its image manifests', async () => {
    await pushJson(pushArgs('evolving/packed', OLD, '--modelpack'))
    const from = proxy.records.length
    const result = await pushJson(pushArgs('evolving/unpacked', NEW, '--from-image', `${proxy.host}/evolving/packed:${OLD.slice(0, 12)}`))
    expect(outcomes(result.files)).to.deep.equal(
      Object.fromEntries(AFTER.map((f) => [f.path, f.path === CHANGED ? 'uploaded' : 'mounted'])),
    )
    expect(uploadedSince(from)).to.be.at.most(layerSize(changed.path, changed.size) * 1.1)
    expect(result.files.find((f) => f.path === 'config.json')!.from).to.equal(`evolving/packed:${OLD.slice(0, 12)}`)
  })

  it('a layer deleted from the registry is uploaded again, not trusted from the manifest', async () => {
    const first = await pushJson(pushArgs('evolving/deleted', OLD))
    const gone = first.files.find((f) => f.path === 'model-00003-of-00004.safetensors')!
    const del = await fetch(`${reg.url}/v2/evolving/deleted/blobs/${gone.digest}`, {method: 'DELETE'})
    expect(del.status).to.equal(202)
    const from = proxy.records.length
    const again = await pushJson(pushArgs('evolving/deleted', OLD, '--target-tag', 'again'))
    expect(outcomes(again.files)[gone.path]).to.equal('uploaded')
    expect(again.files.filter((f) => f.outcome === 'exists')).to.have.length(4)
    const size = layerSize(gone.path, BEFORE.find((f) => f.path === gone.path)!.size)
    expect(uploadedSince(from)).to.be.within(size, size * 1.1)
    await expectImageHolds(`${proxy.host}/evolving/deleted:again`, BEFORE, {manifestDigest: again.manifestDigest})
  })

  it('a manifest whose annotation lies is trusted no further than HEAD: the size must match too', async () => {
    // The registry holds only config.json's layer; a forged manifest claims that blob is shard 1.
    const seed = await pushJson(pushArgs('evolving/liar', OLD, '--include', 'config.json', '--target-tag', 'seed'))
    const held = seed.files[0]
    const shard = BEFORE[0]
    const manifest = (await (
      await fetch(`${reg.url}/v2/evolving/liar/manifests/seed`, {headers: {accept: 'application/vnd.oci.image.manifest.v1+json'}})
    ).json()) as Record<string, unknown>
    const forged = {
      ...manifest,
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: held.digest,
          size: layerSize(shard.path, shard.size),
          annotations: {'org.opencontainers.image.title': shard.path, 'dev.modelcar.content.sha256': await fileSha256(shard)},
        },
      ],
    }
    const put = await fetch(`${reg.url}/v2/evolving/liar/manifests/abcdef1234567`, {
      method: 'PUT',
      headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json'},
      body: JSON.stringify(forged),
    })
    expect(put.status, await put.text()).to.equal(201)
    const from = proxy.records.length
    // --also-tag seed: discovery reads that tag too, so config.json's honest layer is found there.
    const result = await pushJson(pushArgs('evolving/liar', OLD, '--also-tag', 'seed'))
    const got = result.files.find((f) => f.path === shard.path)!
    expect(got.outcome).to.equal('uploaded')
    expect(got.digest).to.not.equal(held.digest)
    expect(outcomes(result.files)['config.json']).to.equal('exists')
    const heads = proxy.records.slice(from).filter((r) => r.method === 'HEAD' && r.url.endsWith(`/blobs/${held.digest}`))
    expect(heads.length, 'the forged candidate was HEADed').to.be.greaterThan(0)
    await expectImageHolds(`${proxy.host}/evolving/liar:${OLD.slice(0, 12)}`, BEFORE, {manifestDigest: result.manifestDigest})
  })

  it('split over 3 shards: every layer uploaded once, the image tagged once by the last shard, a re-run is harmless', async () => {
    const repo = 'evolving/split'
    const tag = NEW.slice(0, 12)
    const shard = (i: number) => pushArgs(repo, NEW, '--split-index', String(i), '--split-count', '3')
    const from = proxy.records.length
    const [zero, one] = await Promise.all([pushJson(shard(0)), pushJson(shard(1))])
    expect(zero.complete).to.equal(false)
    expect(one.complete).to.equal(false)
    expect(zero.waitingFor).to.include(2)
    const last = await pushJson(shard(2))
    expect(last.complete).to.equal(true)
    const records = proxy.records.slice(from)
    // Each layer of the image committed exactly once (the PUT ?digest= that closes its upload).
    for (const f of last.files) {
      const commits = records.filter(
        (r) => r.method === 'PUT' && r.status === 201 && r.url.includes(`digest=${encodeURIComponent(f.digest)}`),
      )
      expect(commits, f.path).to.have.length(1)
    }
    const tagPuts = records.filter((r) => r.method === 'PUT' && r.url.endsWith(`/manifests/${tag}`))
    expect(tagPuts, 'the full manifest pushed once').to.have.length(1)
    for (const i of [0, 1, 2])
      expect(records.some((r) => r.method === 'PUT' && r.url.endsWith(`/manifests/${tag}-split-${i}-of-3`))).to.equal(true)
    await expectImageHolds(`${proxy.host}/${repo}:${tag}`, AFTER, {manifestDigest: last.manifestDigest})

    const before = proxy.records.length
    const rerun = await pushJson(shard(1))
    expect(rerun.complete).to.equal(true)
    expect(rerun.manifestDigest).to.equal(last.manifestDigest)
    expect(proxy.records.slice(before).filter((r) => r.method === 'PATCH')).to.have.length(0)
  })

  it('dry-run against an unreachable registry says discovery was skipped', async () => {
    const run = await runCli(
      ['push', '--hf-repo', 'acme/evolving', '--registry', '127.0.0.1:1', '--target-repo', 'x/y', '--dry-run', '--json'],
      env(),
    )
    expect(run.code, run.stderr).to.equal(0)
    const plan = JSON.parse(run.stdout) as {discovery: {skipped?: string}; files: JsonFile[]}
    expect(plan.discovery.skipped).to.be.a('string')
    expect(plan.files.every((f) => f.reuseFrom === null)).to.equal(true)
  })
})
