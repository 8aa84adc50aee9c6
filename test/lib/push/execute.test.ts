// executePush against the Hub simulator and a real registry: it schedules
// with its own pool (fail-fast, continue-on-error, abort) and reports the
// push only as events.
import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {registryClient} from '../../../src/lib/clients.js'
import {HubClient} from '../../../src/lib/hf/client.js'
import {arenaStats} from '../../../src/lib/http/read-arenas.js'
import {defaultRetryPolicy} from '../../../src/lib/http/retry.js'
import {GENERIC, UploadModes} from '../../../src/lib/oci/profiles.js'
import {parseRegistry} from '../../../src/lib/oci/reference.js'
import {PushEvents, type PushEventMap} from '../../../src/lib/push/events.js'
import {emptyDiscovery} from '../../../src/lib/push/discover.js'
import {executePush, FilesFailedError, type PushDeps} from '../../../src/lib/push/execute.js'
import {planPush, type PushParams, type PushPlan} from '../../../src/lib/push/plan.js'
import {MAX_SEGMENTS_AHEAD, SEGMENT_BYTES} from '../../../src/lib/push/segments.js'
import {BlobStore} from '../../../src/lib/state/blobs.js'
import {openStateDb, type DB} from '../../../src/lib/state/db.js'
import {RunStore} from '../../../src/lib/state/runs.js'
import {startHubSim, type HubSim, type SimFile} from '../../fixtures/hub/index.js'
import {registryAvailable, startRegistry, type TestRegistry} from '../../fixtures/registry/index.js'
import {requireTools} from '../../fixtures/require-tool.js'

const SHA = 'c0ffee0000000000000000000000000000c0ffee'
const FILES: SimFile[] = [
  {path: 'config.json', size: 300},
  {path: 'big.bin', size: 3 * 1024 * 1024 + 5, lfs: true},
  {path: 'mid.bin', size: 200_000, lfs: true},
  {path: 'tok/vocab.txt', size: 40_000},
]
/** Biggest first, so the last worker is not left alone with the largest file. */
const QUEUE = ['big.bin', 'mid.bin', 'tok/vocab.txt', 'config.json']

type Seen = Array<[keyof PushEventMap, string?]>

/** Every event but progress, as [name, file path or detail]. */
function record(events: PushEvents): Seen {
  const seen: Seen = []
  const names: Array<keyof PushEventMap> = [
    'plan',
    'runResumed',
    'fileQueued',
    'fileStarted',
    'fileResumed',
    'fileSkipped',
    'fileDone',
    'fileFailed',
    'retry',
    'uploadModeLearnt',
    'phase',
    'manifestPushed',
  ]
  for (const name of names) {
    events.on(name, (...args: unknown[]) => {
      const first = args[0] as {path?: string; digest?: string} | string
      seen.push([name, typeof first === 'string' ? first : (first?.path ?? (name === 'fileSkipped' ? undefined : first?.digest))])
    })
  }
  return seen
}

describe('push/execute: the push schedules itself and reports events', function () {
  this.timeout(60_000)
  let hub: HubSim
  let reg: TestRegistry
  let hubClient: HubClient
  let db: DB

  before(async function () {
    requireTools(this, registryAvailable(), 'docker-registry missing: install it with `apt-get install docker-registry`')
    hub = await startHubSim({
      repos: [
        {id: 'acme/exec', commits: [{sha: SHA, files: FILES}]},
        // Enough segments to have MAX_SEGMENTS_AHEAD in flight at once.
        {id: 'acme/exec-big', commits: [{sha: SHA, files: [{path: 'one.gguf', size: MAX_SEGMENTS_AHEAD * SEGMENT_BYTES + 3, lfs: true}]}]},
      ],
    })
    reg = await startRegistry()
    hubClient = new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 1, idleTimeoutMs: 10_000})
    db = openStateDb(join(mkdtempSync(join(tmpdir(), 'mc-exec-')), 'state.db'))
  })
  afterEach(() => hub?.clearFaults())
  after(async () => {
    db?.close()
    await reg?.close()
    await hub?.close()
  })

  async function setup(targetRepo: string, opts: {workers?: number; failFast?: boolean; blobs?: boolean; hfRepo?: string} = {}) {
    const registry = parseRegistry(reg.host)
    const params: PushParams = {
      hfRepo: opts.hfRepo ?? 'acme/exec',
      revision: 'main',
      registry,
      targetRepo,
      alsoTags: ['latest'],
      include: [],
      exclude: [],
      workers: opts.workers ?? 2,
      chunkMiB: 1,
      failFast: opts.failFast ?? true,
      uploadMode: 'chunked',
    }
    const plan: PushPlan = await planPush(params, hubClient)
    const events = new PushEvents()
    const deps: PushDeps = {
      // Each push its own client, as in the CLI: a client remembers where files were found.
      hub: new HubClient(new URL(hub.endpoint), undefined, {maxRetries: 1, idleTimeoutMs: 10_000}),
      registry: await registryClient(registry, targetRepo, {env: {}, maxRetries: 1}),
      events,
      policy: {...defaultRetryPolicy, maxRetries: 1},
      registryKey: registry.baseUrl,
      modes: new UploadModes('chunked', GENERIC, false),
      blobs: opts.blobs ? new BlobStore(db) : undefined,
    }
    return {plan, events, deps, seen: record(events)}
  }

  it('queues every file biggest first, runs at most `workers` at once, then config and manifest', async () => {
    const {plan, events, deps, seen} = await setup('exec/events', {workers: 2})
    let active = 0
    let peak = 0
    const progress = new Map<string, number>()
    events.on('fileStarted', () => (peak = Math.max(peak, ++active)))
    events.on('fileDone', () => active--)
    events.on('fileProgress', (file, layerBytes) => progress.set(file.path, Math.max(progress.get(file.path) ?? 0, layerBytes)))
    const result = await executePush(plan, deps)

    expect(seen.slice(0, 4)).to.deep.equal(QUEUE.map((p) => ['fileQueued', p]))
    expect(seen.filter(([name]) => name === 'fileStarted').map(([, p]) => p)).to.deep.equal(QUEUE)
    for (const path of QUEUE) {
      const started = seen.findIndex(([name, p]) => name === 'fileStarted' && p === path)
      const done = seen.findIndex(([name, p]) => name === 'fileDone' && p === path)
      expect(started, path).to.be.greaterThan(3)
      expect(done, path).to.be.greaterThan(started)
      expect(progress.get(path), path).to.equal(plan.files.find((f) => f.path === path)!.layerSize)
    }
    expect(peak).to.equal(2)
    expect(seen.slice(-2)).to.deep.equal([
      ['phase', 'Pushing config and manifest'],
      ['manifestPushed', result.manifestDigest],
    ])
    expect(result.tags).to.deep.equal([plan.tag, 'latest'])
    expect(result.files.map((f) => f.outcome)).to.deep.equal(['uploaded', 'uploaded', 'uploaded', 'uploaded'])
  })

  it('a file running alone reads over the Hub connections of the idle workers too (12 at --workers 4)', async () => {
    const {plan, deps} = await setup('exec/big', {workers: 4, hfRepo: 'acme/exec-big'})
    // Slow first answers, so the reader's segments are all in flight at once.
    hub.injectFault({kind: 'delay', ms: 400, origin: 'cdn', times: 16})
    const from = hub.requests.length
    const result = await executePush(plan, deps)
    const cdn = hub.requests.slice(from).filter((r) => r.origin === 'cdn')
    expect(Math.max(...cdn.map((r) => r.inFlight))).to.equal(12)
    expect(result.files[0].contentSha256).to.equal(plan.files[0].lfsSha256)
  })

  it('gives every piece it read from the Hub back once uploaded: the reads reuse a few arenas, not fresh memory', async () => {
    const {plan, deps} = await setup('exec/arenas', {workers: 4, hfRepo: 'acme/exec-big'})
    const before = arenaStats()
    const result = await executePush(plan, deps)
    const after = arenaStats()
    expect(result.files[0].contentSha256).to.equal(plan.files[0].lfsSha256)
    // 96 MiB fill ~390 arenas of 256 KiB; without the pieces given back every one would be new.
    expect(after.reused - before.reused).to.be.greaterThan(200)
    expect(after.created - before.created).to.be.lessThan(100)
  })

  it('layers the registry has are skipped: mounted from another repository, or already there', async () => {
    const first = await setup('exec/source', {blobs: true})
    const pushed = await executePush(first.plan, first.deps)
    const mount = await setup('exec/mounted', {blobs: true})
    const mounted = await executePush(mount.plan, mount.deps)
    expect(mounted.manifestDigest).to.equal(pushed.manifestDigest)
    expect(
      mount.seen
        .filter(([name]) => name === 'fileSkipped')
        .map(([, p]) => p)
        .sort(),
    ).to.deep.equal([...QUEUE].sort())
    expect(mount.seen.some(([name]) => name === 'fileDone')).to.equal(false)

    const again = await setup('exec/mounted', {blobs: true})
    const outcomes: string[] = []
    again.events.on('fileSkipped', (_file, _result, outcome) => outcomes.push(outcome))
    await executePush(again.plan, again.deps)
    expect(outcomes).to.deep.equal(['exists', 'exists', 'exists', 'exists'])
    expect(mounted.files.map((f) => f.outcome)).to.deep.equal(['mounted', 'mounted', 'mounted', 'mounted'])
  })

  it('fail-fast: the first failure is thrown and no other file starts', async () => {
    const {plan, deps, seen} = await setup('exec/failfast', {workers: 1, failFast: true})
    hub.injectFault({kind: 'status', status: 404, times: Infinity, match: (p) => p.endsWith('/big.bin')})
    const error = await executePush(plan, deps).catch((e) => e)
    expect(error).to.be.instanceOf(Error).and.not.instanceOf(FilesFailedError)
    expect((error as Error).message).to.match(/big\.bin/)
    expect(seen.slice(4)).to.deep.equal([
      ['fileStarted', 'big.bin'],
      ['fileFailed', 'big.bin'],
    ])
  })

  it('continue-on-error: every other file is pushed, the failures are reported, no manifest', async () => {
    hub.injectFault({kind: 'status', status: 404, times: Infinity, match: (p) => p.endsWith('/mid.bin')})
    const {plan, deps, seen} = await setup('exec/continue', {workers: 1, failFast: false})
    const error = await executePush(plan, deps).catch((e) => e)
    expect(error).to.be.instanceOf(FilesFailedError)
    expect((error as FilesFailedError).failures.map((f) => f.path)).to.deep.equal(['mid.bin'])
    expect(seen.filter(([name]) => name === 'fileDone').map(([, p]) => p)).to.deep.equal(['big.bin', 'tok/vocab.txt', 'config.json'])
    expect(seen.filter(([name]) => name === 'fileFailed').map(([, p]) => p)).to.deep.equal(['mid.bin'])
    expect(seen.some(([name]) => name === 'manifestPushed' || name === 'phase')).to.equal(false)
  })

  it("the caller's abort stops the push with its reason; the interrupted file keeps its checkpoint", async () => {
    const {plan, events, deps, seen} = await setup('exec/abort', {workers: 1})
    const runs = new RunStore(db)
    const runId = runs.create({
      pushKey: 'abort',
      hfSha: SHA,
      hfEndpoint: hub.endpoint,
      hfRepo: 'acme/exec',
      hfRevision: 'main',
      registry: reg.host,
      targetRepo: 'exec/abort',
      params: {},
    })
    const controller = new AbortController()
    const reason = new Error('interrupted by the test')
    events.on('fileProgress', (file, layerBytes) => {
      if (layerBytes > 1024 * 1024 && !controller.signal.aborted) controller.abort(reason)
    })
    const error = await executePush(plan, {...deps, runs, signal: controller.signal}, runId).catch((e) => e)
    expect(error).to.equal(reason)
    expect(seen.slice(4)).to.deep.equal([
      ['fileStarted', 'big.bin'],
      // The file in flight gets time to land, and the wait is said.
      ['phase', 'Interrupted: letting the uploads in flight land (while their bytes move, up to 20 s); interrupt again to stop at once'],
      ['fileFailed', 'big.bin'],
    ])
    const saved = runs.savedCheckpoint(runId, 'big.bin')
    expect(saved?.offset, 'acknowledged bytes kept for the next run').to.be.greaterThan(0)
    expect(runs.file(runId, 'big.bin')?.status).to.equal('uploading')
  })

  it('planPush names the commit and tag before it lists the files; executePush takes the discovery its caller read meanwhile', async () => {
    const {plan: planned, deps} = await setup('exec/early')
    const params = planned.params
    const from = hub.requests.length
    let heard: {sha: string; tag: string; hubPaths: string[]} | undefined
    const plan = await planPush(params, hubClient, (commit) => {
      heard = {...commit, hubPaths: hub.requests.slice(from).map((r) => r.url.split('?')[0])}
    })
    expect(heard).to.deep.equal({sha: SHA, tag: SHA.slice(0, 12), hubPaths: ['/api/models/acme/exec/revision/main']})
    expect(plan.tag).to.equal(heard!.tag)
    // The caller's discovery is the one reported and used: nothing is read again.
    const early = emptyDiscovery('read while the Hub listed the files')
    let discovered: unknown
    deps.events!.on('discovered', (d) => (discovered = d))
    await executePush(plan, {...deps, discovering: Promise.resolve(early)})
    expect(discovered).to.equal(early)
  })

  it('planPush asks for access to a file the model info names while the Hub lists the files, not after', async () => {
    const {plan: planned} = await setup('exec/access')
    // The listing is answered only on its retry, a second later: an access check that waited for it would come after.
    hub.injectFault({kind: 'status', status: 503, retryAfter: 1, origin: 'hub', match: (p) => p.includes('/tree/')})
    const from = hub.requests.length
    const plan = await planPush(planned.params, hubClient)
    expect(plan.files).to.have.length(FILES.length)
    const asked = hub.requests
      .slice(from)
      .map((r) => `${r.method} ${r.url.includes('/resolve/') ? 'resolve' : r.url.includes('/tree/') ? 'tree' : 'other'}`)
    expect(
      asked.filter((r) => r === 'HEAD resolve'),
      'one access check',
    ).to.have.length(1)
    expect(asked.indexOf('HEAD resolve'), 'access was asked before the listing was answered').to.be.lessThan(asked.lastIndexOf('GET tree'))
    // A gated repo still fails the plan, with the Hub's own answer.
    hub.injectFault({kind: 'status', status: 403, origin: 'hub', match: (p) => p.includes('/resolve/')})
    expect(await planPush(planned.params, hubClient).catch((e: Error) => e.message)).to.match(/403|gated|access/i)
  })

  it('planPush asks for the file listing of a commit sha together with the revision; the revision still decides', async () => {
    const {plan: planned} = await setup('exec/pinned')
    const pinned = {...planned.params, revision: SHA}
    // The revision is answered only on its retry, a second later: a listing that waited for it would come after.
    hub.injectFault({kind: 'status', status: 503, retryAfter: 1, match: (p) => p.includes('/revision/')})
    const from = hub.requests.length
    const plan = await planPush(pinned, hubClient)
    expect(plan.files.map((f) => f.path).sort()).to.deep.equal(FILES.map((f) => f.path).sort())
    const asked = hub.requests.slice(from).map((r) => r.url.split('/')[5])
    expect(asked.filter((p) => p === 'revision')).to.have.length(2)
    expect(asked.indexOf('tree'), 'the listing was asked before the revision was answered').to.be.lessThan(asked.lastIndexOf('revision'))
    // A commit the Hub does not know: the revision's own error, whatever the listing said.
    const unknown = {...pinned, revision: 'f'.repeat(40)}
    const alone = await hubClient.revisionInfo(unknown.hfRepo, unknown.revision).catch((e: Error) => e.message)
    expect(await planPush(unknown, hubClient).catch((e: Error) => e.message)).to.equal(alone)
  })
})
