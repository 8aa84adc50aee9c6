// README promises that no other suite drives through the built CLI: stall
// timeouts, --fail-fast / --continue-on-error, where the state database lives,
// the 413 step-down remembered per registry, cross-repository mounts, resume by
// id, list filters, resume level 2, blobs deleted between runs, pinned
// revisions, HF_TOKEN_PATH, a corrupted Hub body and the memory bound.
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy, type ProxyRequestRecord} from '../fixtures/registry/proxy.js'
import {startSessionKeeper, type SessionKeeper} from '../fixtures/registry/session-keeper.js'
import {layerSize} from '../../src/lib/layer/tar.js'
import {expectImageHolds, killStrayClis, requireRealTools, runCli, startCli, tempStateDb, waitFor} from './helpers.js'

const MiB = 1024 * 1024
const HF_TOKEN = 'hf_promisesToken0123456789'
const SHA = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'
const NEW_SHA = 'b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1'
const BIG: SimFile = {path: 'model.safetensors', size: 6 * MiB + 3, lfs: true}
const FILES: SimFile[] = [BIG, {path: 'tokenizer.json', size: 100_003}, {path: 'config.json', size: 2000}]
const NEW_FILES: SimFile[] = [{...BIG, seed: 'the next commit'}, ...FILES.slice(1)]
const OTHER: SimFile[] = [
  {path: 'weights.bin', size: 3 * MiB + 1, lfs: true, seed: 'other repo'},
  {path: 'config.json', size: 999, seed: 'other'},
]
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
// Twice the memory bound: a push that held the file (or most of it) would break the bound.
const HUGE: SimFile = {path: 'huge.safetensors', size: 512 * MiB, lfs: true}

interface FileRow {
  run_id: number
  path: string
  status: string
  upload_offset: number | null
}
interface PushResult {
  runId: number
  manifestDigest: string
  files: Array<{path: string; outcome: string; digest: string; size: number}>
}

describe('e2e: README promises (flags, state, resume, mounts, memory)', function () {
  this.timeout(180_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy
  let reference: PushResult
  const closers: Array<() => Promise<void>> = []

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      tokens: [HF_TOKEN],
      repos: [
        {id: 'acme/prom', commits: [{sha: SHA, files: FILES}]},
        {
          id: 'acme/moved',
          commits: [
            {sha: SHA, files: FILES},
            {sha: NEW_SHA, files: NEW_FILES},
          ],
        },
        {id: 'acme/pinned', commits: [{sha: SHA, files: FILES}]},
        {id: 'acme/other', commits: [{sha: 'c'.repeat(40), files: OTHER}]},
        {id: 'acme/private', private: true, commits: [{sha: 'd'.repeat(40), files: OTHER.slice(1)}]},
        {id: 'acme/huge', commits: [{sha: 'e'.repeat(40), files: [HUGE]}]},
      ],
    })
    reg = await startRegistry({deleteEnabled: true})
    proxy = await startFaultProxy(reg.url)
    const res = await runCli([...pushArgs('ref/prom', reg), '--json'], env(tempStateDb()))
    expect(res.code, res.stderr).to.equal(0)
    reference = JSON.parse(res.stdout)
  })
  afterEach(() => {
    killStrayClis()
    hub?.clearFaults()
    proxy?.clearFaults()
  })
  after(async () => {
    for (const close of closers) await close()
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  function env(db: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db, ...extra}
  }
  const pushArgs = (repo: string, via: {host: string} = proxy, hfRepo = 'acme/prom') => [
    'push',
    '--hf-repo',
    hfRepo,
    '--registry',
    via.host,
    '--target-repo',
    repo,
  ]
  const patches = (records: ProxyRequestRecord[]) => records.filter((r) => r.method === 'PATCH')
  const patchBytes = (records: ProxyRequestRecord[]) => patches(records).reduce((n, r) => n + r.requestBytes, 0)
  const layersOf = (files: SimFile[]) => files.reduce((n, f) => n + layerSize(f.path, f.size), 0)
  const blobStatus = async (repo: string, digest: string) => (await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, {method: 'HEAD'})).status
  const manifestStatus = async (repo: string, ref: string) =>
    (await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {method: 'HEAD', headers: {accept: OCI_MANIFEST}})).status
  /** Rows of the files of runs after `afterRun` in the state database. */
  function fileRows(db: string, afterRun = 0): FileRow[] {
    if (!existsSync(db)) return []
    const conn = new Database(db, {readonly: true, fileMustExist: true})
    try {
      return conn.prepare('SELECT run_id, path, status, upload_offset FROM run_files WHERE run_id > ?').all(afterRun) as FileRow[]
    } catch {
      return []
    } finally {
      conn.close()
    }
  }
  /** Start a push, SIGINT it once a checkpoint is saved (the Hub stalls the big file so it cannot finish first). */
  async function interrupted(args: string[], db: string, afterRun = 0): Promise<number> {
    hub.injectFault({kind: 'stall', afterBytes: 3 * MiB, ms: 60_000, origin: 'cdn'})
    const run = startCli([...args, '--workers', '1', '--chunk-mib', '1'], env(db))
    await waitFor(() => fileRows(db, afterRun).some((r) => (r.upload_offset ?? 0) >= MiB), 'a checkpoint')
    run.child.kill('SIGINT')
    const stopped = await run.done
    expect(stopped.code, stopped.stderr).to.equal(130)
    hub.clearFaults()
    const list = await runCli(['list', '--json', '--limit', '1'], env(db))
    return JSON.parse(list.stdout).runs[0].id as number
  }

  it('--stall-timeout: a CDN body that stops moving is retried with Range from where it stalled, same digest', async () => {
    const hubFrom = hub.requests.length
    hub.injectFault({kind: 'stall', afterBytes: 2 * MiB, ms: 120_000, origin: 'cdn'})
    const started = Date.now()
    const res = await runCli([...pushArgs('stall/prom'), '--stall-timeout', '1', '--json'], env(tempStateDb()), {timeoutMs: 60_000})
    expect(res.code, res.stderr).to.equal(0)
    expect(Date.now() - started, 'far less than the 120 s stall').to.be.below(60_000)
    expect(JSON.parse(res.stdout).manifestDigest).to.equal(reference.manifestDigest)
    const gets = hub.requests.slice(hubFrom).filter((r) => r.origin === 'cdn' && r.served?.path === BIG.path)
    expect(gets.length, 'the stalled GET and its continuation').to.be.at.least(2)
    const stalled = gets[0]
    expect(stalled.served).to.include({start: 0, bytes: 2 * MiB})
    const next = gets[1]
    expect(next.headers.range).to.equal(`bytes=${2 * MiB}-`)
    expect(next.served).to.include({start: 2 * MiB, bytes: BIG.size - 2 * MiB})
  })

  describe('a file the Hub refuses every time (503)', () => {
    const refuseBig = () => hub.injectFault({kind: 'status', status: 503, times: Infinity, match: (p) => p.endsWith(`/${BIG.path}`)})
    const others = () => reference.files.filter((f) => f.path !== BIG.path)

    it('--fail-fast (the default): exit 1 at the first failed file; nothing else is committed, no manifest', async () => {
      refuseBig()
      const from = proxy.records.length
      // One worker, the biggest file first: the failure comes before any other file starts.
      const res = await runCli([...pushArgs('ff/prom'), '--fail-fast', '--workers', '1', '--max-retries', '0'], env(tempStateDb()))
      expect(res.code, res.stderr).to.equal(1)
      expect(res.stdout).to.not.match(/MANIFESTDIGEST/)
      const records = proxy.records.slice(from)
      expect(
        records.filter((r) => r.method === 'PUT' && r.status === 201),
        'no blob committed',
      ).to.deep.equal([])
      expect(await manifestStatus('ff/prom', SHA.slice(0, 12))).to.equal(404)
    })

    it('--continue-on-error: exit 1, every other blob committed, no manifest; resume finishes once the fault is gone', async () => {
      refuseBig()
      const db = tempStateDb()
      const res = await runCli([...pushArgs('coe/prom'), '--continue-on-error', '--workers', '1', '--max-retries', '0'], env(db))
      expect(res.code, res.stderr).to.equal(1)
      expect(res.stdout).to.not.match(/MANIFESTDIGEST/)
      for (const f of others()) expect(await blobStatus('coe/prom', f.digest), f.path).to.equal(200)
      expect(await blobStatus('coe/prom', reference.files.find((f) => f.path === BIG.path)!.digest)).to.equal(404)
      expect(await manifestStatus('coe/prom', SHA.slice(0, 12))).to.equal(404)
      hub.clearFaults()
      const from = proxy.records.length
      const resumed = await runCli(['resume', '--json'], env(db))
      expect(resumed.code, resumed.stderr).to.equal(0)
      expect(JSON.parse(resumed.stdout).manifestDigest).to.equal(reference.manifestDigest)
      // Only the failed file is uploaded by the resume.
      expect(patchBytes(proxy.records.slice(from))).to.equal(layerSize(BIG.path, BIG.size))
      await expectImageHolds(`${reg.host}/coe/prom:${SHA.slice(0, 12)}`, FILES, {manifestDigest: reference.manifestDigest})
    })
  })

  describe('where the state database lives', () => {
    const small = () => ['push', '--hf-repo', 'acme/private', '--registry', reg.host, '--target-repo', 'state/where']
    const mode = (path: string) => statSync(path).mode & 0o777

    it('--state-db names the file; it is created with mode 0600 and holds the run', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'mc-flag-')), 'nested', 'my.db')
      const home = mkdtempSync(join(tmpdir(), 'mc-home-'))
      const res = await runCli([...small(), '--state-db', path], {HF_ENDPOINT: hub.endpoint, HF_TOKEN, HOME: home})
      expect(res.code, res.stderr).to.equal(0)
      expect(mode(path)).to.equal(0o600)
      expect(existsSync(join(home, '.local', 'state', 'modelcar', 'state.db')), 'the default was not used').to.equal(false)
      const list = JSON.parse((await runCli(['list', '--json', '--state-db', path], {HOME: home})).stdout).runs
      expect(list).to.have.length(1)
    })

    it('default: $XDG_STATE_HOME/modelcar/state.db, else ~/.local/state/modelcar/state.db, mode 0600', async () => {
      const xdg = mkdtempSync(join(tmpdir(), 'mc-xdg-'))
      const home = mkdtempSync(join(tmpdir(), 'mc-home-'))
      const withXdg = await runCli(small(), {HF_ENDPOINT: hub.endpoint, HF_TOKEN, HOME: home, XDG_STATE_HOME: xdg})
      expect(withXdg.code, withXdg.stderr).to.equal(0)
      expect(mode(join(xdg, 'modelcar', 'state.db'))).to.equal(0o600)
      expect(existsSync(join(home, '.local', 'state', 'modelcar', 'state.db'))).to.equal(false)
      const withHome = await runCli(small(), {HF_ENDPOINT: hub.endpoint, HF_TOKEN, HOME: home})
      expect(withHome.code, withHome.stderr).to.equal(0)
      expect(mode(join(home, '.local', 'state', 'modelcar', 'state.db'))).to.equal(0o600)
    })
  })

  it('a chunk answered 413 steps the layer down to stream; the state database remembers it and the next push starts there', async () => {
    const own = await startFaultProxy(reg.url)
    closers.push(() => own.close())
    const db = tempStateDb()
    own.injectFault({kind: 'status', status: 413, match: (m) => m === 'PATCH'})
    // One worker: the big file's first chunk is refused before any other file starts.
    const first = await runCli([...pushArgs('learn/prom', own), '--chunk-mib', '1', '--workers', '1', '--json'], env(db))
    expect(first.code, first.stderr).to.equal(0)
    expect(JSON.parse(first.stdout).manifestDigest).to.equal(reference.manifestDigest)
    const sent = patches(own.records)
    const refused = sent.findIndex((r) => r.status === 413)
    expect(refused).to.be.at.least(0)
    expect(sent[refused].headers['content-range'], 'the refused PATCH was a chunk').to.be.a('string')
    const chunkedAfter = sent.slice(refused + 1).filter((r) => r.headers['content-range'] !== undefined)
    expect(chunkedAfter, 'stream PATCHes only after the 413').to.deep.equal([])
    const conn = new Database(db, {readonly: true})
    const learnt = conn.prepare('SELECT registry, mode FROM registry_modes').all()
    conn.close()
    expect(learnt).to.deep.equal([{registry: `http://${own.host}`, mode: 'stream'}])

    const from = own.records.length
    const second = await runCli([...pushArgs('learn/other', own, 'acme/other'), '--chunk-mib', '1'], env(db))
    expect(second.code, second.stderr).to.equal(0)
    const next = patches(own.records.slice(from))
    expect(next, 'one streamed PATCH per file').to.have.length(OTHER.length)
    expect(next.every((r) => r.headers['content-range'] === undefined)).to.equal(true)
  })

  it('identical files are mounted across repositories: POST ?mount=, no PATCH', async () => {
    const db = tempStateDb()
    const first = await runCli(pushArgs('mount/a'), env(db))
    expect(first.code, first.stderr).to.equal(0)
    const from = proxy.records.length
    const second = await runCli([...pushArgs('mount/b'), '--json'], env(db))
    expect(second.code, second.stderr).to.equal(0)
    const result: PushResult = JSON.parse(second.stdout)
    expect(result.manifestDigest).to.equal(reference.manifestDigest)
    expect(result.files.map((f) => f.outcome)).to.deep.equal(FILES.map(() => 'mounted'))
    const records = proxy.records.slice(from)
    for (const f of reference.files) {
      const posted = records.filter((r) => r.method === 'POST').map((r) => ({...r, query: decodeURIComponent(r.url)}))
      const mount = posted.find((r) => r.query.includes(`mount=${f.digest}`) && r.query.includes('from=mount/a'))
      expect(mount, f.path).to.not.equal(undefined)
      expect(mount!.status, f.path).to.equal(201)
    }
    expect(patchBytes(records)).to.equal(0)
    await expectImageHolds(`${reg.host}/mount/b:${SHA.slice(0, 12)}`, FILES, {manifestDigest: reference.manifestDigest})
  })

  it('a finished blob deleted from the registry between runs is uploaded again; the others are not', async () => {
    const db = tempStateDb()
    const first = await runCli(pushArgs('gone/prom'), env(db))
    expect(first.code, first.stderr).to.equal(0)
    const tok = reference.files.find((f) => f.path === 'tokenizer.json')!
    expect((await fetch(`${reg.url}/v2/gone/prom/blobs/${tok.digest}`, {method: 'DELETE'})).status).to.equal(202)
    const from = proxy.records.length
    const again = await runCli([...pushArgs('gone/prom'), '--json'], env(db))
    expect(again.code, again.stderr).to.equal(0)
    const result: PushResult = JSON.parse(again.stdout)
    const outcomes = Object.fromEntries(result.files.map((f) => [f.path, f.outcome]))
    expect(outcomes).to.deep.equal({[BIG.path]: 'exists', 'tokenizer.json': 'uploaded', 'config.json': 'exists'})
    expect(patchBytes(proxy.records.slice(from))).to.equal(tok.size)
    await expectImageHolds(`${reg.host}/gone/prom:${SHA.slice(0, 12)}`, FILES, {manifestDigest: reference.manifestDigest})
  })

  it('resume level 2: after a cut PATCH, GET of the upload location says what the registry kept; the session continues', async () => {
    let keeper: SessionKeeper | undefined
    let kp: FaultProxy | undefined
    try {
      keeper = await startSessionKeeper(reg.url)
      kp = await startFaultProxy(keeper.url)
      let n = 0
      kp.injectFault({kind: 'reset', afterBytes: 300 * 1024, match: (m) => m === 'PATCH' && ++n === 3})
      const res = await runCli([...pushArgs('level2/prom', kp), '--chunk-mib', '1', '--workers', '1', '--json'], env(tempStateDb()))
      expect(res.code, res.stderr).to.equal(0)
      const records = kp.records
      const cut = records.findIndex((r) => r.fault === 'reset')
      expect(cut).to.be.at.least(0)
      const cutSession = /\/blobs\/uploads\/([^/?]+)/.exec(records[cut].url)![1]
      const after = records.slice(cut + 1)
      const resync = after.find((r) => r.method === 'GET' && r.url.includes(`/blobs/uploads/${cutSession}`))
      expect(resync, 'GET of the upload session').to.not.equal(undefined)
      expect(resync!.status).to.equal(204)
      // The next PATCH goes to the same session, from where the registry says it stands.
      const nextPatch = after.find((r) => r.method === 'PATCH')!
      expect(nextPatch.url).to.include(cutSession)
      const held = Number(/-(\d+)$/.exec(String(resync!.upstreamHeaders?.range))?.[1] ?? NaN) + 1
      expect(String(nextPatch.headers['content-range'])).to.match(new RegExp(`^${held}-`))
      // One session per blob (nothing restarted); every layer byte sent once, plus at most the cut chunk.
      const sessions = records.filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))
      expect(sessions.length).to.equal(FILES.length + 1) // + the config
      const layers = layersOf(FILES)
      expect(patchBytes(records) - layers).to.be.within(0, MiB)
      expect(JSON.parse(res.stdout).manifestDigest).to.equal(reference.manifestDigest)
    } finally {
      await kp?.close()
      await keeper?.close()
    }
  })

  it('resume ID continues that run, pinned to the commit it resolved, while `resume` alone takes the most recent', async () => {
    const db = tempStateDb()
    const older = await interrupted(pushArgs('rid/older', proxy, 'acme/pinned'), db)
    hub.addCommit('acme/pinned', {sha: NEW_SHA, files: NEW_FILES})
    const newer = await interrupted(pushArgs('rid/newer', proxy, 'acme/pinned'), db, older)
    expect(newer).to.not.equal(older)
    const byId = await runCli(['resume', String(older), '--json'], env(db))
    expect(byId.code, byId.stderr).to.equal(0)
    const resumedOlder = JSON.parse(byId.stdout)
    expect(resumedOlder.runId).to.equal(older)
    const pinned = await expectImageHolds(`${reg.host}/rid/older:${SHA.slice(0, 12)}`, FILES, {manifestDigest: resumedOlder.manifestDigest})
    expect(pinned.layout.manifest.annotations['org.opencontainers.image.revision'], 'the commit the run resolved, not main').to.equal(SHA)
    const latest = await runCli(['resume', '--json'], env(db))
    expect(latest.code, latest.stderr).to.equal(0)
    const resumedNewer = JSON.parse(latest.stdout)
    expect(resumedNewer.runId).to.equal(newer)
    const newerRef = `${reg.host}/rid/newer:${NEW_SHA.slice(0, 12)}`
    const layout = await expectImageHolds(newerRef, NEW_FILES, {manifestDigest: resumedNewer.manifestDigest})
    expect(layout.layout.manifest.annotations['org.opencontainers.image.revision']).to.equal(NEW_SHA)
  })

  it('list --repo, --status and --limit filter the history', async () => {
    const db = tempStateDb()
    for (const [hfRepo, repo] of [
      ['acme/prom', 'hist/a'],
      ['acme/other', 'hist/b'],
      ['acme/prom', 'hist/c'],
    ]) {
      const res = await runCli(pushArgs(repo, reg, hfRepo), env(db))
      expect(res.code, res.stderr).to.equal(0)
    }
    hub.injectFault({kind: 'status', status: 503, times: Infinity, match: (p) => p.endsWith('/weights.bin')})
    // --force: the blobs are in the registry already; this push must download, and fails.
    const failed = await runCli([...pushArgs('hist/d', reg, 'acme/other'), '--force', '--max-retries', '0'], env(db))
    expect(failed.code).to.equal(1)
    hub.clearFaults()
    const list = async (...flags: string[]) => {
      const res = await runCli(['list', '--json', ...flags], env(db))
      expect(res.code, res.stderr).to.equal(0)
      return JSON.parse(res.stdout).runs as Array<{id: number; status: string; hfRepo?: string; targetRepo?: string}>
    }
    const all = await list()
    expect(all).to.have.length(4)
    const ids = all.map((r) => r.id)
    expect(ids, 'newest first').to.deep.equal([...ids].sort((a, b) => b - a))
    const prom = await list('--repo', 'acme/prom')
    expect(prom.map((r) => r.id)).to.deep.equal([ids[1], ids[3]])
    expect((await list('--repo', 'hist/b')).map((r) => r.id)).to.deep.equal([ids[2]])
    expect((await list('--status', 'failed')).map((r) => r.id)).to.deep.equal([ids[0]])
    expect((await list('--status', 'done')).map((r) => r.id)).to.deep.equal(ids.slice(1))
    expect((await list('--repo', 'acme/prom', '--status', 'done', '--limit', '1')).map((r) => r.id)).to.deep.equal([ids[1]])
  })

  it('--hf-revision with a 40-hex commit pushes that commit, not the branch head', async () => {
    const res = await runCli([...pushArgs('rev/prom', reg, 'acme/moved'), '--hf-revision', SHA, '--json'], env(tempStateDb()))
    expect(res.code, res.stderr).to.equal(0)
    const {layout} = await expectImageHolds(`${reg.host}/rev/prom:${SHA.slice(0, 12)}`, FILES)
    expect(layout.manifest.annotations['org.opencontainers.image.revision']).to.equal(SHA)
    const head = await runCli([...pushArgs('rev/head', reg, 'acme/moved'), '--dry-run', '--json'], env(tempStateDb()))
    expect(JSON.parse(head.stdout).sha, 'main is elsewhere').to.equal(NEW_SHA)
  })

  it('HF_TOKEN_PATH wins over $HF_HOME/token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-hf-'))
    const hfHome = join(dir, 'hf-home')
    mkdirSync(hfHome)
    const good = join(dir, 'good-token')
    const bad = join(dir, 'bad-token')
    writeFileSync(good, `${HF_TOKEN}\n`)
    writeFileSync(bad, 'hf_not_the_token\n')
    const args = ['push', '--hf-repo', 'acme/private', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--dry-run']
    const plan = (extra: NodeJS.ProcessEnv) => runCli(args, {HF_ENDPOINT: hub.endpoint, ...extra})
    writeFileSync(join(hfHome, 'token'), 'hf_not_the_token\n')
    const pathWins = await plan({HF_HOME: hfHome, HF_TOKEN_PATH: good})
    expect(pathWins.code, pathWins.stderr).to.equal(0)
    writeFileSync(join(hfHome, 'token'), `${HF_TOKEN}\n`)
    const homeAlone = await plan({HF_HOME: hfHome})
    expect(homeAlone.code, homeAlone.stderr).to.equal(0)
    const pathStillWins = await plan({HF_HOME: hfHome, HF_TOKEN_PATH: bad})
    expect(pathStillWins.code).to.equal(2)
    expect(pathStillWins.stderr).to.match(/rejected the token/)
  })

  it('a Hub body of the right length with one byte flipped: the sha256 check fails the file and no manifest is pushed', async () => {
    hub.injectFault({kind: 'flip', at: 3 * MiB + 7, times: Infinity, origin: 'cdn'})
    const res = await runCli(pushArgs('flip/prom'), env(tempStateDb()))
    expect(res.code, res.stderr).to.equal(1)
    expect(res.stderr).to.match(/sha256/)
    expect(res.stdout).to.not.match(/MANIFESTDIGEST/)
    expect(await manifestStatus('flip/prom', SHA.slice(0, 12))).to.equal(404)
    expect(await blobStatus('flip/prom', reference.files.find((f) => f.path === BIG.path)!.digest)).to.equal(404)
  })

  it('memory stays bounded: pushing a 512 MiB file peaks under 256 MiB RSS (Node 20 and 24 alike)', async () => {
    const run = startCli(pushArgs('mem/huge', reg, 'acme/huge'), env(tempStateDb()))
    let peakKiB = 0
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${run.child.pid}/status`, 'utf8'))
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]))
      } catch {
        // the process has exited
      }
    }
    const timer = setInterval(sample, 25)
    const res = await run.done
    clearInterval(timer)
    expect(res.code, res.stderr).to.equal(0)
    expect(peakKiB, 'sampled at least once').to.be.greaterThan(0)
    console.log(`      peak RSS ${(peakKiB / 1024).toFixed(0)} MiB for a ${HUGE.size / MiB} MiB file`)
    expect(peakKiB * 1024, `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`).to.be.below(256 * MiB)
  })
})
