// modelcar mirror end to end: a catalogue of small repos from the Hub
// simulator into the real registry (through a counting proxy), read back with
// skopeo and umoci; re-runs that cost one manifest read per entry; three
// Indexed-Job shards that push every entry once; a failing entry.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy, type ProxyRequestRecord} from '../fixtures/registry/proxy.js'
import {expectImageHolds, killStrayClis, requireRealTools, runCli, sha256Hex, startCli, tempStateDb, waitFor} from './helpers.js'

const REPOS = ['acme/alpha', 'acme/beta', 'acme/gamma', 'acme/delta']
const sha = (i: number) => `${(i + 1).toString(16).repeat(8)}${'0'.repeat(31)}${i}`
/** Distinct bytes per repo (the simulator seeds content by path), so no two entries share a layer. */
function files(repo: string, i: number): SimFile[] {
  return [
    {path: 'config.json', size: 0, content: Buffer.from(`{"model_type":"${repo}"}\n`)},
    {path: 'tokenizer.json', size: 20_000 + i, seed: `${repo}/tok`},
    {path: 'model.safetensors', size: 300_000 + 1000 * i, lfs: true, seed: `${repo}/weights`},
  ].map((f) => (f.content ? {...f, size: f.content.length} : f))
}
const FILES = new Map(REPOS.map((r, i) => [r, files(r, i)]))
/** The split-files repo: more files than shards. */
const HUGE_SHA = 'e'.repeat(40)
const HUGE_FILES: SimFile[] = Array.from({length: 7}, (_, i) => ({
  path: `shard-${i}.safetensors`,
  size: 100_000 + i,
  lfs: true,
  seed: `huge/${i}`,
}))

/** A split-files repo big enough for a shard to be killed in the middle of a file. */
const BIG_SHA = 'b'.repeat(40)
const BIG_FILES: SimFile[] = Array.from({length: 6}, (_, i) => ({
  path: `part-${i}.safetensors`,
  size: 6 * 1024 * 1024 + i,
  lfs: true,
  seed: `big/${i}`,
}))

interface EntryJson {
  entry: number
  hfRepo: string
  revision: string
  sha?: string
  imageRef: string
  outcome: string
  bytesUploaded: number
  seconds: number
  digest?: string
  runId?: number
  error?: string
}

describe('e2e: modelcar mirror', function () {
  this.timeout(300_000)
  let hub: HubSim
  let reg: TestRegistry
  const proxies: FaultProxy[] = []

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      repos: [
        ...REPOS.map((id, i) => ({id, commits: [{sha: sha(i), files: FILES.get(id)!}]})),
        {id: 'acme/huge', commits: [{sha: HUGE_SHA, files: HUGE_FILES}]},
        {id: 'acme/big', commits: [{sha: BIG_SHA, files: BIG_FILES}]},
      ],
    })
    reg = await startRegistry()
  })
  afterEach(() => killStrayClis())
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()))
    await reg?.close()
    await hub?.close()
  })

  /** A proxy of its own per test: its records are that test's registry traffic. */
  async function proxy(): Promise<FaultProxy> {
    const p = await startFaultProxy(reg.url)
    proxies.push(p)
    return p
  }

  function mirrorFile(registry: string, prefix: string, repos: string[], extra = ''): string {
    const path = join(mkdtempSync(join(tmpdir(), 'mc-mirror-')), 'mirror.yaml')
    const models = repos.map((r) => `  - repo: ${r}\n    target: ${prefix}/${r.split('/')[1]}\n`).join('')
    writeFileSync(path, `registry: ${registry}\n${extra}defaults:\n  workers: 2\nmodels:\n${models}`)
    return path
  }

  const env = () => ({HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: tempStateDb()})
  const uploaded = (records: ProxyRequestRecord[]) =>
    records.filter((r) => r.method === 'PATCH' || (r.method === 'PUT' && r.url.includes('/blobs/'))).reduce((n, r) => n + r.requestBytes, 0)

  /** Reads every image back; returns its layer bytes and its blob bytes (layers and configs). */
  async function expectMirrored(prefix: string, repos: string[]): Promise<{layerBytes: number; blobBytes: number}> {
    let layerBytes = 0
    let blobBytes = 0
    for (const repo of repos) {
      const i = REPOS.indexOf(repo)
      const {layout} = await expectImageHolds(`${reg.host}/${prefix}/${repo.split('/')[1]}:${sha(i).slice(0, 12)}`, FILES.get(repo)!)
      expect(layout.manifest.annotations['org.opencontainers.image.revision']).to.equal(sha(i))
      layerBytes += layout.manifest.layers.reduce((n, l) => n + l.size, 0)
      blobBytes += layout.manifest.config.size
    }
    return {layerBytes, blobBytes: blobBytes + layerBytes}
  }

  it('mirrors four repos in one process, then a re-run finds each current with one Hub call and one manifest read', async () => {
    const p = await proxy()
    const file = mirrorFile(p.host, 'one', REPOS, 'concurrency: 2\n')
    const e = env()
    const first = await runCli(['mirror', file], e)
    expect(first.code, first.stderr).to.equal(0)
    const {blobBytes} = await expectMirrored('one', REPOS)
    expect(uploaded(p.records)).to.equal(blobBytes)
    // One summary table: a header, a row per entry in the file's order, then the totals.
    const lines = first.stdout.trimEnd().split('\n')
    expect(lines[0]).to.match(/^ENTRY\s+IMAGE\s+OUTCOME\s+UPLOADED\s+TIME\s+DIGEST \/ ERROR$/)
    REPOS.forEach((repo, i) => {
      expect(lines[i + 1]).to.match(
        new RegExp(`^\\[${i}\\] ${repo}@main\\s+${p.host}/one/${repo.split('/')[1]}:${sha(i).slice(0, 12)}\\s+pushed\\s+`),
      )
      expect(lines[i + 1]).to.match(/sha256:[0-9a-f]{64}$/)
    })
    expect(lines.at(-1)).to.match(/^4 entries: 4 pushed; 1\.3 MiB uploaded$/)
    expect(first.stderr).to.match(/\[2\] acme\/gamma@main: pushing to /)
    expect(first.stderr).to.match(/\[2\] acme\/gamma@main: model\.safetensors uploaded \(/)

    // Each entry is a normal run in the state database.
    const list = await runCli(['list', '--json'], e)
    const runs = JSON.parse(list.stdout).runs as Array<{status: string; hfRepo: string}>
    expect(runs.map((r) => [r.hfRepo, r.status]).sort()).to.deep.equal(REPOS.map((r) => [r, 'done']).sort())

    const registryMark = p.records.length
    const hubMark = hub.requests.length
    const again = await runCli(['mirror', file, '--json'], {...e, MODELCAR_STATE_DB: tempStateDb()})
    expect(again.code, again.stderr).to.equal(0)
    const results = JSON.parse(again.stdout) as EntryJson[]
    expect(results.map((r) => [r.entry, r.hfRepo, r.revision, r.outcome, r.bytesUploaded])).to.deep.equal(
      REPOS.map((r, i) => [i, r, 'main', 'current', 0]),
    )
    for (const [i, r] of results.entries()) {
      expect(r.sha).to.equal(sha(i))
      expect(r.imageRef).to.equal(`${p.host}/one/${REPOS[i].split('/')[1]}:${sha(i).slice(0, 12)}`)
      expect(r.digest).to.match(/^sha256:[0-9a-f]{64}$/)
      expect(r.seconds).to.be.a('number')
    }
    const registryCalls = p.records.slice(registryMark).map((r) => `${r.method} ${new URL(r.url, 'http://x').pathname}`)
    expect(registryCalls.sort()).to.deep.equal(
      REPOS.map((r, i) => `GET /v2/one/${r.split('/')[1]}/manifests/${sha(i).slice(0, 12)}`).sort(),
    )
    const hubCalls = hub.requests.slice(hubMark).map((r) => `${r.method} ${new URL(r.url, 'http://x').pathname}`)
    expect(hubCalls.sort()).to.deep.equal(REPOS.map((r) => `GET /api/models/${r}/revision/main`).sort())
  })

  it('three Indexed-Job shards push every entry exactly once, each layer uploaded once', async () => {
    const p = await proxy()
    const file = mirrorFile(p.host, 'sharded', REPOS)
    const shards = await Promise.all(
      [0, 1, 2].map((i) => runCli(['mirror', file, '--json'], {...env(), JOB_COMPLETION_INDEX: String(i), MODELCAR_SHARD_COUNT: '3'})),
    )
    const byShard = shards.map((s) => {
      expect(s.code, s.stderr).to.equal(0)
      return JSON.parse(s.stdout) as EntryJson[]
    })
    const pushed = byShard.flat().filter((r) => r.outcome === 'pushed')
    expect(byShard.flat()).to.have.length(4)
    expect(pushed.map((r) => r.hfRepo).sort()).to.deep.equal([...REPOS].sort())
    expect(byShard.every((s) => s.length >= 1)).to.equal(true)
    const {layerBytes, blobBytes} = await expectMirrored('sharded', REPOS)
    expect(uploaded(p.records)).to.equal(blobBytes)
    expect(pushed.reduce((n, r) => n + r.bytesUploaded, 0)).to.equal(layerBytes)
  })

  it('a missing repo fails its entry, names it, exits 1; the other entries are pushed', async () => {
    const p = await proxy()
    const file = mirrorFile(p.host, 'failing', ['acme/alpha', 'acme/missing', 'acme/beta'])
    const res = await runCli(['mirror', file], env())
    expect(res.code, res.stderr).to.equal(1)
    await expectMirrored('failing', ['acme/alpha', 'acme/beta'])
    const row = res.stdout.split('\n').find((l) => l.startsWith('[1] acme/missing@main'))
    // Not a terminal: nothing is cut, the row carries the whole error.
    expect(row, res.stdout).to.match(/\s+failed\s+-\s+\d+s\s+Hugging Face repo "acme\/missing" was not found.*\.$/)
    expect(res.stdout).to.match(/^3 entries: 2 pushed, 1 failed;/m)
    expect(res.stderr).to.match(/^Error: 1 of 3 entries failed \(models\[1\] acme\/missing@main\): fix the cause and run the mirror again/m)

    const json = await runCli(['mirror', file, '--json'], env())
    expect(json.code).to.equal(1)
    const results = JSON.parse(json.stdout) as EntryJson[]
    expect(results.map((r) => r.outcome)).to.deep.equal(['current', 'failed', 'current'])
    expect(results[1].error).to.include('acme/missing')
    expect(results[1].error, 'the fix names the file, not a push flag').to.include("check the entry's repo").and.not.include('--hf-repo')
  })

  // PushParams.split: each shard uploads its share of the files and tags a partial manifest; the shard that finds every
  // layer present pushes the image.
  it('a split-files entry is spread over the shards: every layer uploaded once, the manifest pushed, a re-run uploads nothing', async () => {
    const p = await proxy()
    const file = mirrorFile(p.host, 'split', REPOS)
    writeFileSync(file, `${readFileSync(file, 'utf8')}  - repo: acme/huge\n    target: split/huge\n    split-files: true\n`)
    const run = () =>
      Promise.all(
        [0, 1, 2].map((i) => runCli(['mirror', file, '--json'], {...env(), JOB_COMPLETION_INDEX: String(i), MODELCAR_SHARD_COUNT: '3'})),
      )
    const shards = await run()
    const results = shards.flatMap((s) => {
      expect(s.code, s.stderr).to.equal(0)
      return JSON.parse(s.stdout) as EntryJson[]
    })
    const huge = results.filter((r) => r.hfRepo === 'acme/huge')
    expect(huge).to.have.length(3)
    expect(huge.filter((r) => r.outcome === 'pushed').length).to.be.at.least(1)
    const {blobBytes} = await expectMirrored('split', REPOS)
    const {layout} = await expectImageHolds(`${reg.host}/split/huge:${HUGE_SHA.slice(0, 12)}`, HUGE_FILES)
    const hugeBytes = layout.manifest.config.size + layout.manifest.layers.reduce((n, l) => n + l.size, 0)
    // Each shard also tags a partial manifest of its share, with a config blob of its own.
    const partialConfigs = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const res = await fetch(`${reg.url}/v2/split/huge/manifests/${HUGE_SHA.slice(0, 12)}-split-${i}-of-3`, {
          headers: {accept: 'application/vnd.oci.image.manifest.v1+json'},
        })
        expect(res.status, `partial manifest of shard ${i}`).to.equal(200)
        return ((await res.json()) as {config: {size: number}}).config.size
      }),
    )
    // Every layer byte once. Shards that find every layer present at the same moment may each push the image's
    // config (same bytes, same digest: harmless), so only that blob may come more than once.
    const extra = uploaded(p.records) - (blobBytes + hugeBytes + partialConfigs.reduce((n, b) => n + b, 0))
    expect(extra % layout.manifest.config.size, `bytes beyond each blob once: ${extra}`).to.equal(0)
    expect(extra).to.be.within(0, 2 * layout.manifest.config.size)

    const mark = p.records.length
    const again = await run()
    for (const s of again) expect((JSON.parse(s.stdout) as EntryJson[]).every((r) => r.outcome === 'current')).to.equal(true)
    expect(uploaded(p.records.slice(mark))).to.equal(0)
  })

  it('a split shard killed in the middle of a file and run again completes the image', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mc-mirror-kill-')), 'mirror.yaml')
    writeFileSync(file, `registry: ${reg.host}\nmodels:\n  - repo: acme/big\n    target: killed/big\n    split-files: true\n`)
    const shardEnv = (i: number, stateDb = tempStateDb()) => ({
      ...env(),
      MODELCAR_STATE_DB: stateDb,
      JOB_COMPLETION_INDEX: String(i),
      MODELCAR_SHARD_COUNT: '3',
    })
    const tag = BIG_SHA.slice(0, 12)
    for (const i of [0, 1]) {
      const done = await runCli(['mirror', file, '--json'], shardEnv(i))
      expect(done.code, done.stderr).to.equal(0)
      expect((JSON.parse(done.stdout) as EntryJson[])[0].outcome, `shard ${i} alone leaves the image to the others`).to.equal('partial')
    }
    // Shard 2's Hub bodies stop after 1 MiB for a while: it is killed with a file half moved.
    const stateDb = tempStateDb()
    const from = hub.requests.length
    hub.injectFault({kind: 'stall', afterBytes: 1024 * 1024, ms: 20_000, origin: 'cdn', times: 10})
    const killed = startCli(['mirror', file, '--json'], shardEnv(2, stateDb))
    await waitFor(
      () => hub.requests.slice(from).some((r) => r.origin === 'cdn' && (r.served?.bytes ?? 0) > 0),
      "shard 2's first file under way",
    )
    killed.child.kill('SIGKILL')
    expect((await killed.done).signal, 'the shard was killed, not finished').to.equal('SIGKILL')
    hub.clearFaults()
    const image = await fetch(`${reg.url}/v2/killed/big/manifests/${tag}`, {method: 'HEAD'})
    expect(image.status, 'no image while a shard is missing').to.equal(404)

    const again = await runCli(['mirror', file, '--json'], shardEnv(2, stateDb))
    expect(again.code, again.stderr).to.equal(0)
    const [result] = JSON.parse(again.stdout) as EntryJson[]
    expect(result.outcome).to.equal('pushed')
    const {layout} = await expectImageHolds(`${reg.host}/killed/big:${tag}`, BIG_FILES)
    expect(result.digest).to.equal(`sha256:${sha256Hex(layout.manifestBytes)}`)
  })
})
