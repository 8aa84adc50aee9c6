// Resume anywhere: SIGKILL the real CLI mid-push, resume, and check the image
// is byte-identical to an uninterrupted push, with little re-transfer.
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {startHubSim, type HubSim, type RecordedRequest, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy, type ProxyRequestRecord} from '../fixtures/registry/proxy.js'
import {startSessionKeeper, type SessionKeeper} from '../fixtures/registry/session-keeper.js'
import {layerHeader, layerSize} from '../../src/lib/layer/tar.js'
import {acknowledgedBytes, filesInFlight, hubRereads, RetransferLedger} from './retransfer.js'
import {expectImageHolds, killStrayClis, outputValue, requireRealTools, runCli, startCli, waitFor, tempStateDb} from './helpers.js'

const MiB = 1024 * 1024
const CHUNK_MIB = 2
const SHA = 'c0ffee0000000000000000000000000000c0ffee'
const FILES: SimFile[] = [
  {path: 'model-00001-of-00002.safetensors', size: 20 * MiB + 3, lfs: true},
  {path: 'model-00002-of-00002.safetensors', size: 12 * MiB + 5, lfs: true},
  {path: 'config.json', size: 2000},
  {path: 'tokenizer/tokenizer.json', size: 300_000},
]

interface FileRow {
  path: string
  status: string
  upload_offset: number | null
  layer_size: number
  hash_state: Buffer | null
}

describe('e2e: resume after kill -9, status, list, locks', function () {
  this.timeout(240_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy
  let reference: string

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({repos: [{id: 'acme/resumable', commits: [{sha: SHA, files: FILES}]}]})
    reg = await startRegistry()
    proxy = await startFaultProxy(reg.url)
    const ref = await runCli(['push', '--hf-repo', 'acme/resumable', '--registry', reg.host, '--target-repo', 'ref/model'], env(stateDb()))
    expect(ref.code, ref.stderr).to.equal(0)
    reference = outputValue(ref.stdout, 'MANIFESTDIGEST')
  })
  afterEach(async () => {
    killStrayClis()
    hub?.clearFaults()
    proxy?.clearFaults()
    await new Promise((r) => setTimeout(r, 100)) // let killed clients' sockets close
  })
  after(async () => {
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  const stateDb = tempStateDb
  function env(db: string) {
    return {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db}
  }
  function files(db: string): FileRow[] {
    if (!existsSync(db)) return []
    const conn = new Database(db, {readonly: true, fileMustExist: true})
    try {
      return conn.prepare('SELECT path, status, upload_offset, layer_size, hash_state FROM run_files').all() as FileRow[]
    } catch {
      return []
    } finally {
      conn.close()
    }
  }
  const patchBytes = (from: number) =>
    proxy.records
      .slice(from)
      .filter((r) => r.method === 'PATCH')
      .reduce((n, r) => n + r.requestBytes, 0)
  /** Bytes of `path` the Hub simulator served since request `from` (what the client really read again, not what it says). */
  const servedSince = (from: number, path: string) =>
    hub.requests.slice(from).reduce((n, r) => n + (r.served?.path === path ? r.served.bytes : 0), 0)
  /** Content bytes of a file before the layer offset `offset` (the tar headers come first). */
  const contentBefore = (file: SimFile, offset: number) => offset - layerHeader(file.path, file.size).length

  async function checkSameImage(repo: string, digest: string, via: FaultProxy = proxy) {
    expect(digest).to.equal(reference)
    await expectImageHolds(`${via.host}/${repo}:${SHA.slice(0, 12)}`, FILES, {manifestDigest: reference})
  }

  /** Ctrl-C mid-file, then resume (`tamper` may change the state in between); what was sent and re-read. */
  async function interruptAndResume(repo: string, hashEnv: Record<string, string>, tamper?: (db: string) => void) {
    const db = stateDb()
    const big = FILES[0]
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      proxy.host,
      '--target-repo',
      repo,
      '--workers',
      '1',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    // Slow the big file's download so the interrupt lands mid-file. The PATCH
    // in flight waits out the stall, a retry's backoff (up to 0.5 s) and the
    // new request, with no byte moving: all of it must fit the 2 s without
    // progress an interrupt allows, or the PATCH is cut and distribution drops
    // the session (a restart, not a resume).
    hub.injectFault({kind: 'stall', afterBytes: 7 * MiB, ms: 800, origin: 'cdn'})
    const run = startCli(args, {...env(db), ...hashEnv})
    await waitFor(() => files(db).find((r) => r.path === big.path && (r.upload_offset ?? 0) >= 4 * MiB), 'a checkpoint past 4 MiB')
    run.child.kill('SIGINT')
    const stopped = await run.done
    expect(stopped.code, stopped.stderr).to.equal(130)
    const saved = files(db).find((r) => r.path === big.path)!
    expect(saved.upload_offset).to.be.greaterThan(0)

    // status shows the interrupted run with per-file progress and how to resume.
    const status = await runCli(['status', '--json'], env(db))
    expect(status.code, status.stderr).to.equal(0)
    const [detail] = JSON.parse(status.stdout).runs
    expect(detail.status).to.equal('interrupted')
    expect(detail.resumeCommand).to.equal(`modelcar resume ${detail.id}`)
    const inProgress = detail.fileStates.find((f: {path: string}) => f.path === big.path)
    expect(inProgress.state).to.equal('in progress')
    expect(inProgress.bytesDone).to.equal(saved.upload_offset)
    const human = await runCli(['status', String(detail.id)], env(db))
    expect(human.stdout).to.include(`Resume with: modelcar resume ${detail.id}`).and.to.include(big.path)

    tamper?.(db)
    const from = proxy.records.length
    const hubFrom = hub.requests.length
    const resumed = await runCli(['resume', '--json'], {...env(db), ...hashEnv})
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = JSON.parse(resumed.stdout)
    expect(result.runId).to.equal(detail.id)
    const totalLayers = result.files.reduce((n: number, f: {size: number}) => n + f.size, 0)
    const done = files(db)
    expect(done.every((r) => r.status === 'done')).to.equal(true)
    await checkSameImage(repo, result.manifestDigest)

    const list = await runCli(['list', '--json'], env(db))
    const runs = JSON.parse(list.stdout).runs
    expect(runs[0]).to.include({id: detail.id, status: 'done', manifestDigest: reference, attempts: 2})
    // What the Hub served again of the interrupted file: everything past the held content, plus what was re-read.
    const reread = servedSince(hubFrom, big.path) - (big.size - contentBefore(big, saved.upload_offset!))
    const cliReread = result.bytesReread as number
    return {sent: patchBytes(from), totalLayers, reread, cliReread, checkpoint: saved.upload_offset!, hashState: saved.hash_state}
  }

  it('Ctrl-C lets the PATCH in flight land; resume re-uploads nothing and, from the saved hash state, re-reads nothing', async () => {
    const {sent, totalLayers, checkpoint, reread, hashState} = await interruptAndResume('sigint/session', {})
    expect(hashState).to.be.instanceOf(Buffer)
    expect(sent).to.equal(totalLayers - checkpoint)
    expect(reread).to.equal(0)
  })

  it('without the native hash (MODELCAR_SHA256=node) the same resume re-reads exactly the held prefix to rebuild the hash', async () => {
    const {sent, totalLayers, checkpoint, reread, hashState} = await interruptAndResume('sigint/node-hash', {MODELCAR_SHA256: 'node'})
    expect(hashState).to.equal(null)
    expect(sent).to.equal(totalLayers - checkpoint)
    expect(reread).to.equal(contentBefore(FILES[0], checkpoint))
  })

  // The tar header is generated, not downloaded: it never counts as re-read.
  it("the CLI's bytesReread is what the Hub served again", async () => {
    const {reread, cliReread} = await interruptAndResume('sigint/node-hash-count', {MODELCAR_SHA256: 'node'})
    expect(cliReread).to.equal(reread)
  })

  it('a damaged saved hash state costs a restart of that file, never a wrong blob', async () => {
    const {sent, totalLayers, checkpoint} = await interruptAndResume('sigint/damaged', {}, (db) => {
      const conn = new Database(db)
      const row = conn.prepare('SELECT path, hash_state FROM run_files WHERE hash_state IS NOT NULL AND status != ?').get('done') as {
        path: string
        hash_state: Buffer
      }
      row.hash_state[20] ^= 0xff // inside the layer hash's chaining value
      conn.prepare('UPDATE run_files SET hash_state = ? WHERE path = ?').run(row.hash_state, row.path)
      conn.close()
    })
    // Found when the file's sha256 did not match the Hub's: the file started
    // over on a new session (the image itself is checked byte for byte above).
    expect(sent).to.equal(totalLayers - checkpoint + layerSize(FILES[0].path, FILES[0].size))
  })

  it('Ctrl-C while a slow Hub keeps a PATCH moving past 2 s: it lands, and resume re-uploads nothing', async () => {
    const db = stateDb()
    const big = FILES[0]
    const chunk = 8 * MiB
    // 1 MiB/s per Hub connection: the first 8 MiB PATCH takes ~8 s over one (>2.5 s over three), bytes moving all along.
    hub.injectFault({kind: 'slow', bytesPerSec: MiB, origin: 'cdn', times: 100})
    const args = ['push', '--hf-repo', 'acme/resumable', '--registry', proxy.host, '--target-repo', 'sigint/slow', '--workers', '1']
    const run = startCli([...args, '--chunk-mib', String(chunk / MiB)], env(db))
    await waitFor(() => files(db).some((r) => r.path === big.path && r.status === 'uploading'), 'the big file to start uploading')
    await new Promise((r) => setTimeout(r, 500)) // into the first PATCH, seconds before its end
    run.child.kill('SIGINT')
    const stopped = await run.done
    expect(stopped.code, stopped.stderr).to.equal(130)
    expect(stopped.stderr, 'the wait is said, not a silent hang').to.include('Interrupted: letting the uploads in flight land')
    hub.clearFaults()
    const saved = files(db).find((r) => r.path === big.path)!
    // Cut halfway, distribution would have cancelled the session and the file would start over.
    expect(saved.upload_offset, 'the PATCH in flight landed and was checkpointed').to.be.at.least(chunk)
    const from = proxy.records.length
    const resumed = await runCli(['resume', '--json'], env(db))
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = JSON.parse(resumed.stdout)
    await checkSameImage('sigint/slow', result.manifestDigest)
    const totalLayers = result.files.reduce((n: number, f: {size: number}) => n + f.size, 0)
    expect(patchBytes(from), 'the resume sent only what the registry did not hold').to.equal(totalLayers - saved.upload_offset!)
  })

  it('SIGTERM stops within seconds with exit 143 and says how to resume', async () => {
    const db = stateDb()
    hub.injectFault({kind: 'stall', afterBytes: 3 * MiB, ms: 30_000, origin: 'cdn'})
    const run = startCli(
      ['push', '--hf-repo', 'acme/resumable', '--registry', proxy.host, '--target-repo', 'sigterm/model', '--workers', '1'],
      env(db),
    )
    await waitFor(() => files(db).some((r) => r.status === 'uploading'), 'the push to start uploading')
    const t0 = Date.now()
    run.child.kill('SIGTERM')
    const stopped = await run.done
    expect(Date.now() - t0).to.be.below(5000)
    expect(stopped.code).to.equal(143)
    expect(stopped.stderr.trim().split('\n').at(-1)).to.match(/^Error: Interrupted by SIGTERM\. Run `modelcar resume \d+` to continue\.$/)
  })

  it('kill -9 while the Hub stalls mid-PATCH: the cut session is replaced and the file restarts', async () => {
    const db = stateDb()
    const big = FILES[0]
    hub.injectFault({kind: 'stall', afterBytes: 9 * MiB, ms: 20_000, origin: 'cdn'})
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      proxy.host,
      '--target-repo',
      'kill/stall',
      '--workers',
      '1',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    const run = startCli(args, env(db))
    await waitFor(() => files(db).find((r) => r.path === big.path && (r.upload_offset ?? 0) >= 8 * MiB), 'a checkpoint at 8 MiB')
    await new Promise((r) => setTimeout(r, 300))
    run.child.kill('SIGKILL')
    await run.done
    const from = proxy.records.length
    const resumed = await runCli(args, env(db))
    expect(resumed.code, resumed.stderr).to.equal(0)
    // distribution signs the offset into the Location: the half-sent PATCH made it unusable.
    expect(proxy.records.slice(from).some((r) => r.method === 'GET' && r.url.includes('/blobs/uploads/') && r.status === 404)).to.equal(
      true,
    )
    expect(patchBytes(from)).to.be.at.most(FILES.reduce((n, f) => n + f.size + 8192, 0))
    await checkSameImage('kill/stall', outputValue(resumed.stdout, 'MANIFESTDIGEST'))
  })

  /**
   * SIGKILL after the registry took the big file's third chunk but before the
   * client heard (the proxy holds the answer back): the checkpoint is one
   * chunk behind the registry. Returns what the resume sent and re-read.
   */
  async function killBetweenPatchAndCheckpoint(via: FaultProxy, repo: string) {
    const db = stateDb()
    const big = FILES[0]
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      via.host,
      '--target-repo',
      repo,
      '--workers',
      '1',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    let patches = 0
    via.injectFault({kind: 'hold-answer', ms: 60_000, match: (m) => m === 'PATCH' && ++patches === 3})
    const from = via.records.length
    const run = startCli(args, env(db))
    await waitFor(
      () => via.records.slice(from).find((r) => r.fault === 'hold-answer' && r.upstreamStatus === 202),
      'the registry to take the third chunk',
    )
    run.child.kill('SIGKILL')
    await run.done
    expect(files(db).find((r) => r.path === big.path)?.upload_offset).to.equal(2 * CHUNK_MIB * MiB)
    const next = via.records.length
    const hubFrom = hub.requests.length
    const resumed = await runCli(['resume', '--json'], env(db))
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = JSON.parse(resumed.stdout)
    await checkSameImage(repo, result.manifestDigest, via)
    const layers = result.files.reduce((n: number, f: {size: number}) => n + f.size, 0)
    const sent = via.records
      .slice(next)
      .filter((r) => r.method === 'PATCH')
      .reduce((n, r) => n + r.requestBytes, 0)
    const sessionLost = via.records.slice(next).some((r) => r.method === 'GET' && r.url.includes('/blobs/uploads/') && r.status === 404)
    // Read again from the Hub: what it served of the big file that the registry already held (three chunks).
    const reread = servedSince(hubFrom, big.path) - (big.size - contentBefore(big, 3 * CHUNK_MIB * MiB))
    return {layers, sent, reread, sessionLost}
  }

  /**
   * Push, SIGKILL three times at random moments, resume to the end; per kill:
   * the files in flight and the bytes uploaded and read from the Hub again.
   */
  async function killThreeTimes(seed: number, via: FaultProxy, repo: string) {
    const db = stateDb()
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      via.host,
      '--target-repo',
      repo,
      '--workers',
      '2',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    let rng = seed * 7919
    const random = () => (rng = (rng * 48271) % 2147483647) / 2147483647
    const total = FILES.reduce((n, f) => n + f.size, 0)
    const layersTotal = FILES.reduce((n, f) => n + layerSize(f.path, f.size), 0)
    const ledger = new RetransferLedger(db)
    let finishedBefore: string[] = []
    const uploads: ProxyRequestRecord[][] = []
    const downloads: RecordedRequest[][] = []
    const inFlight: number[] = []
    for (let k = 0; ; k++) {
      const from = via.records.length
      const fromHub = hub.requests.length
      const since = Date.now()
      ledger.watch()
      const run = startCli(k === 0 ? args : ['resume', '--json'], env(db))
      let killed = false
      if (k < 3) {
        // Kill after a random share (5-35 %) of what is left to upload: the run cannot finish first. The
        // last kill also waits for a finished file (the smaller shard and the small files finish while
        // the biggest shard still has more to go), so the final attempt has finished files to leave alone.
        const remaining = k === 0 ? layersTotal : layersTotal - acknowledgedBytes(db)
        const target = (0.05 + 0.3 * random()) * remaining
        const sent = () =>
          via.records
            .slice(from)
            .filter((r) => r.method === 'PATCH')
            .reduce((n, r) => n + r.requestBytes, 0)
        const ready = () => sent() >= target && (k < 2 || files(db).some((r) => r.status === 'done'))
        const progressed = waitFor(() => ready() || undefined, 'upload progress', 60_000).then(() => false)
        const finished = await Promise.race([progressed, run.done.then(() => true)])
        expect(finished, `attempt ${k + 1} finished before its kill`).to.equal(false)
        inFlight.push(filesInFlight(db, since))
        run.child.kill('SIGKILL')
        killed = true
      }
      const result = await run.done
      ledger.stop()
      uploads.push(via.records.slice(from))
      downloads.push(hub.requests.slice(fromHub))
      // Files finished before the last kill are neither read from the Hub nor uploaded again: this attempt
      // downloaded none of their bytes and uploaded at most the layers of the files not finished then.
      const attempt = {served: downloads.at(-1)!.filter((r) => r.served && finishedBefore.includes(r.served.path)), sent: uploads.at(-1)!}
      expect(
        attempt.served.map((r) => r.served!.path),
        'finished files read again',
      ).to.deep.equal([])
      const unfinished = FILES.filter((f) => !finishedBefore.includes(f.path)).reduce((n, f) => n + layerSize(f.path, f.size), 0)
      expect(attempt.sent.filter((r) => r.method === 'PATCH').reduce((n, r) => n + r.requestBytes, 0)).to.be.at.most(unfinished)
      finishedBefore = files(db)
        .filter((r) => r.status === 'done')
        .map((r) => r.path)
      if (killed) continue
      expect(result.code, result.stderr).to.equal(0)
      const digest = k === 0 ? outputValue(result.stdout, 'MANIFESTDIGEST') : JSON.parse(result.stdout).manifestDigest
      await checkSameImage(repo, digest, via)
      const up = ledger.reuploads(uploads)
      const down = hubRereads(downloads)
      const perKill = inFlight.map(
        (n, i) => `${n} in flight: ${(up.perKill[i] / MiB).toFixed(2)} MiB re-uploaded, ${(down.perKill[i] / MiB).toFixed(2)} MiB re-read`,
      )
      console.log(`      seed ${seed}: ${perKill.join('; ') || 'finished before a kill'}`)
      expect(up.other, 'bytes re-sent that no kill explains').to.equal(0)
      // The history counts what killed processes uploaded too (each acknowledged
      // PATCH; the part of a cut one that the registry kept is not known to it).
      const [listed] = JSON.parse((await runCli(['list', '--json'], env(db))).stdout).runs
      const sentAll = uploads
        .flat()
        .filter((r) => r.method === 'PATCH')
        .reduce((n, r) => n + r.requestBytes, 0)
      const unacknowledged = inFlight.reduce((n, f) => n + f * CHUNK_MIB * MiB, 0)
      expect(listed.bytesUploaded)
        .to.be.at.least(total - unacknowledged)
        .and.at.most(sentAll)
      expect(inFlight, 'three kills').to.have.length(3)
      expect(finishedBefore, 'files finished before the last kill').to.not.be.empty
      // What the last attempt read again from the Hub, by the simulator's records, in-flight files only.
      return {inFlight, reuploaded: up.perKill, reread: down.perKill, lastReread: down.perKill.at(-1)!}
    }
  }

  for (const seed of [1, 2, 3]) {
    it(`three SIGKILLs at random moments (seed ${seed}) still give the uninterrupted digest; finished files are never re-sent`, async () => {
      const {inFlight, reuploaded} = await killThreeTimes(seed, proxy, `kill/random${seed}`)
      // distribution signs the offset into the upload URL: a PATCH cut by the
      // kill loses the session, and the files in flight start over.
      reuploaded.forEach((bytes, i) => expect(bytes).to.be.at.most(inFlight[i] * (FILES[0].size + 4096)))
    })
  }

  it('kill -9 between a PATCH the registry took and its checkpoint: distribution drops the session, the file restarts', async () => {
    const {layers, sent, sessionLost} = await killBetweenPatchAndCheckpoint(proxy, 'kill/unheard')
    expect(sessionLost).to.equal(true)
    expect(sent).to.equal(layers)
  })

  describe('behind a registry that keeps upload sessions (spec-style GET Range, no signed offset)', () => {
    let keeper: SessionKeeper
    let keeperProxy: FaultProxy
    before(async () => {
      keeper = await startSessionKeeper(reg.url)
      keeperProxy = await startFaultProxy(keeper.url)
    })
    after(async () => {
      await keeperProxy?.close()
      await keeper?.close()
    })
    it("kill -9 between a PATCH the registry took and its checkpoint: the registry's count wins; nothing is sent twice, one chunk is re-read", async () => {
      const {layers, sent, reread, sessionLost} = await killBetweenPatchAndCheckpoint(keeperProxy, 'keep/unheard')
      expect(sessionLost).to.equal(false)
      expect(sent).to.equal(layers - 3 * CHUNK_MIB * MiB)
      expect(reread).to.equal(CHUNK_MIB * MiB)
    })

    for (const seed of [1, 2, 3]) {
      it(`three SIGKILLs at random moments (seed ${seed}): each re-uploads at most one chunk per file in flight`, async () => {
        const {inFlight, reuploaded, reread, lastReread} = await killThreeTimes(seed, keeperProxy, `keep/random${seed}`)
        const chunk = CHUNK_MIB * MiB
        reuploaded.forEach((bytes, i) => expect(bytes, `kill ${i + 1}`).to.be.at.most(inFlight[i] * chunk))
        // The hashes continue from the checkpoint's saved state: only what the
        // registry kept past it is read again (at most the chunk cut by the
        // kill), plus what the sockets held when the process died (loopback
        // buffers here: up to ~4 MiB a connection).
        reread.forEach((bytes, i) => expect(bytes, `kill ${i + 1}`).to.be.at.most(inFlight[i] * (chunk + 8 * MiB)))
        expect(lastReread, 'bytes the Hub served again after the last kill').to.be.at.most(inFlight.at(-1)! * (chunk + 8 * MiB))
      })
    }
  })

  it('a kill during the manifest PUT resumes to the same digest', async () => {
    const db = stateDb()
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      proxy.host,
      '--target-repo',
      'kill/manifest',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    // The registry stores the manifest but the client never hears back.
    proxy.injectFault({kind: 'reset', afterBytes: Infinity, times: Infinity, match: (m, p) => m === 'PUT' && p.includes('/manifests/')})
    const first = await runCli([...args, '--max-retries', '0'], env(db), {timeoutMs: 60_000})
    proxy.clearFaults()
    expect(first.code, first.stderr).to.equal(1)
    const from = proxy.records.length
    const again = await runCli(args, env(db))
    expect(again.code, again.stderr).to.equal(0)
    expect(patchBytes(from)).to.equal(0)
    await checkSameImage('kill/manifest', outputValue(again.stdout, 'MANIFESTDIGEST'))
  })

  it('a layer the registry completed while the client never heard is found by a HEAD of its recorded digest, not sent again', async () => {
    const db = stateDb()
    const big = FILES[0]
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      proxy.host,
      '--target-repo',
      'kill/commit',
      '--workers',
      '1',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    // The first commit (the biggest file goes first) lands, but its answer is lost and
    // so is the HEAD that would tell: the process ends not knowing the blob is complete.
    proxy.injectFault({kind: 'reset', afterBytes: Infinity, match: (m, p) => m === 'PUT' && p.includes('/blobs/uploads/')})
    proxy.injectFault({kind: 'status', status: 503, match: (m, p) => m === 'HEAD' && p.includes('/blobs/sha256:')})
    const first = await runCli([...args, '--max-retries', '0'], env(db), {timeoutMs: 60_000})
    proxy.clearFaults()
    expect(first.code, first.stderr).to.equal(1)
    const conn = new Database(db, {readonly: true})
    const row = conn.prepare('SELECT status, layer_digest FROM run_files WHERE path = ?').get(big.path) as {
      status: string
      layer_digest: string | null
    }
    conn.close()
    expect(row.status).to.not.equal('done')
    expect(row.layer_digest).to.match(/^sha256:[0-9a-f]{64}$/)

    const from = proxy.records.length
    const again = await runCli([...args, '--json'], env(db))
    expect(again.code, again.stderr).to.equal(0)
    const result = JSON.parse(again.stdout)
    expect(result.files.find((f: {path: string}) => f.path === big.path)).to.include({outcome: 'exists', digest: row.layer_digest})
    const others = result.files.filter((f: {path: string}) => f.path !== big.path).reduce((n: number, f: {size: number}) => n + f.size, 0)
    expect(patchBytes(from)).to.equal(others)
    await checkSameImage('kill/commit', result.manifestDigest)
  })

  it('--force abandons the unfinished run: its upload sessions are deleted and everything is pushed again', async () => {
    const db = stateDb()
    const args = [
      'push',
      '--hf-repo',
      'acme/resumable',
      '--registry',
      proxy.host,
      '--target-repo',
      'force/model',
      '--workers',
      '1',
      '--chunk-mib',
      String(CHUNK_MIB),
    ]
    hub.injectFault({kind: 'stall', afterBytes: 5 * MiB, ms: 30_000, origin: 'cdn'})
    const run = startCli(args, env(db))
    await waitFor(() => files(db).some((r) => (r.upload_offset ?? 0) >= 4 * MiB), 'a checkpoint')
    run.child.kill('SIGINT')
    expect((await run.done).code).to.equal(130)
    hub.clearFaults()
    const from = proxy.records.length
    const forced = await runCli([...args, '--force', '--json'], env(db))
    expect(forced.code, forced.stderr).to.equal(0)
    const result = JSON.parse(forced.stdout)
    expect(proxy.records.slice(from).some((r) => r.method === 'DELETE' && r.url.includes('/blobs/uploads/'))).to.equal(true)
    expect(result.files.every((f: {outcome: string}) => f.outcome === 'uploaded')).to.equal(true)
    const runs = JSON.parse((await runCli(['list', '--json'], env(db))).stdout).runs
    expect(runs.map((r: {status: string}) => r.status)).to.deep.equal(['done', 'failed'])
    expect(runs[1].error).to.equal('abandoned: a --force push replaced it')
    await checkSameImage('force/model', result.manifestDigest)
  })

  it("a second process is refused while the first drives the run; a dead owner's lock is taken over", async () => {
    const db = stateDb()
    hub.injectFault({kind: 'stall', afterBytes: 1 * MiB, ms: 30_000, origin: 'cdn'})
    const args = ['push', '--hf-repo', 'acme/resumable', '--registry', proxy.host, '--target-repo', 'lock/model', '--workers', '1']
    const first = startCli(args, env(db))
    await waitFor(() => files(db).some((r) => r.status === 'uploading'), 'the first push to start uploading')
    const second = await runCli(args, env(db))
    expect(second.code).to.equal(3)
    expect(second.stderr.trim()).to.match(
      new RegExp(`^Error: Run \\d+ is being pushed by process ${first.child.pid} on \\S+: wait for it to finish`),
    )
    first.child.kill('SIGKILL')
    await first.done
    const third = await runCli(args, env(db))
    expect(third.code, third.stderr).to.equal(0)
    expect(third.stderr).to.include('Resuming run')
    expect(outputValue(third.stdout, 'MANIFESTDIGEST')).to.equal(reference)
  })
})
