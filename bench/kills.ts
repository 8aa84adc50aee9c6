/**
 * `npm run bench:kills` (issue 3's "done when"): a multi-GiB push SIGKILLed at
 * random moments, then `modelcar resume` until it finishes. For each kill:
 * the files in flight, the bytes uploaded again (from the proxy's PATCH
 * records) and read again from the Hub (from the simulator's records), and the
 * final manifest digest against an uninterrupted push. Twice: into the bare
 * registry (CNCF distribution signs the offset into the upload URL, so a PATCH
 * cut by the kill loses the session) and behind the session keeper (a registry
 * that keeps sessions by id and reports what it holds, as the OCI spec
 * describes), and there once more with node:crypto (MODELCAR_SHA256=node: no
 * saved hash state, so a resume re-reads the whole prefix). Not a test: it
 * prints figures and writes bench/kills.json.
 *
 *   npm run build && npm run bench:kills
 *   BENCH_GIB=4 BENCH_KILLS=3 BENCH_SEED=7 npm run bench:kills
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type SimFile} from '../test/fixtures/hub/index.js'
import {registryAvailable, startRegistry} from '../test/fixtures/registry/index.js'
import {startFaultProxy} from '../test/fixtures/registry/proxy.js'
import {startSessionKeeper} from '../test/fixtures/registry/session-keeper.js'
import {killStrayClis, outputValue, runCli, startCli, waitFor} from '../test/e2e/helpers.js'
import {acknowledgedBytes, filesInFlight, hubRereads, RetransferLedger} from '../test/e2e/retransfer.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt)
const GIBS = env('BENCH_GIB', 2)
const SHARDS = env('BENCH_SHARDS', 4)
const KILLS = env('BENCH_KILLS', 3)
const SEED = env('BENCH_SEED', 1)
const WORKERS = env('BENCH_WORKERS', 4)
const CHUNK_MIB = env('BENCH_CHUNK_MIB', 8)
const REPO = 'bench/killed'
const SHA = 'b1e55ed000000000000000000000000000b1e55e'
const shard = Math.floor((GIBS * GiB) / SHARDS)
const FILES: SimFile[] = [
  ...Array.from({length: SHARDS}, (_, i) => ({
    path: `model-${String(i + 1).padStart(5, '0')}-of-${String(SHARDS).padStart(5, '0')}.safetensors`,
    size: shard + i * 4099,
    lfs: true,
  })),
  {path: 'config.json', size: 1800},
  {path: 'tokenizer.json', size: 2_000_000},
]
const CONTENT = FILES.reduce((n, f) => n + f.size, 0)
const mib = (n: number) => (n / MiB).toFixed(1)

interface KillRow {
  registry: string
  kill: number
  atPercent: number
  inFlight: number
  reuploadedMiB: string
  boundMiB: string
  rereadMiB: string
}

async function main(): Promise<void> {
  if (!registryAvailable()) throw new Error("bench:kills needs Debian's docker-registry (apt-get install docker-registry)")
  const hub = await startHubSim({repos: [{id: REPO, commits: [{sha: SHA, files: FILES}]}]})
  const rows: KillRow[] = []
  const summary: Record<string, unknown>[] = []
  let rng = SEED * 7919
  const random = () => (rng = (rng * 48271) % 2147483647) / 2147483647
  try {
    const plain = await startRegistry({logLevel: 'warn'})
    const t0 = Date.now()
    const ref = await runCli(
      ['push', '--hf-repo', REPO, '--registry', plain.host, '--target-repo', 'ref/model', '--workers', String(WORKERS)],
      {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: stateDb()},
      {timeoutMs: 3_600_000},
    )
    if (ref.code !== 0) throw new Error(`uninterrupted push failed: ${ref.stderr}`)
    const reference = outputValue(ref.stdout, 'MANIFESTDIGEST')
    process.stderr.write(`uninterrupted push of ${mib(CONTENT)} MiB: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${reference}\n`)
    await plain.close()

    const variants = [
      {variant: 'distribution 2.8 (bare)', keep: false, hash: {}},
      {variant: 'distribution + session keeper', keep: true, hash: {}},
      {variant: 'session keeper, MODELCAR_SHA256=node', keep: true, hash: {MODELCAR_SHA256: 'node'}},
    ]
    for (const {variant, keep, hash} of variants) {
      const reg = await startRegistry({logLevel: 'warn'})
      const keeper = keep ? await startSessionKeeper(reg.url) : undefined
      const proxy = await startFaultProxy((keeper ?? reg).url)
      const db = stateDb()
      const cliEnv = {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db, ...hash}
      const ledger = new RetransferLedger(db)
      const uploads: (typeof proxy.records)[] = []
      const downloads: (typeof hub.requests)[] = []
      const kills: Array<{atPercent: number; inFlight: number}> = []
      const args = [
        'push',
        '--hf-repo',
        REPO,
        '--registry',
        proxy.host,
        '--target-repo',
        'killed/model',
        '--workers',
        String(WORKERS),
        '--chunk-mib',
        String(CHUNK_MIB),
      ]
      const started = Date.now()
      rng = SEED * 7919 // the same kill points for every variant
      let final
      for (let attempt = 0; ; attempt++) {
        const fromProxy = proxy.records.length
        const fromHub = hub.requests.length
        const since = Date.now()
        ledger.watch()
        const run = startCli(attempt === 0 ? args : ['resume', '--json'], cliEnv, {timeoutMs: 3_600_000})
        let killed = false
        if (attempt < KILLS) {
          // A random moment: after a random share of the layer bytes went out in this attempt.
          const target = (0.08 + 0.2 * random()) * CONTENT
          const sent = () =>
            proxy.records
              .slice(fromProxy)
              .filter((r) => r.method === 'PATCH')
              .reduce((n, r) => n + r.requestBytes, 0)
          const finished = await Promise.race([
            waitFor(() => sent() >= target || undefined, 'upload progress', 600_000).then(() => false),
            run.done.then(() => true),
          ])
          if (!finished) {
            await new Promise((r) => setTimeout(r, Math.floor(random() * 250)))
            const inFlight = filesInFlight(db, since)
            run.child.kill('SIGKILL')
            killed = true
            kills.push({atPercent: Math.round((100 * acknowledgedBytes(db)) / CONTENT), inFlight})
          }
        }
        const done = await run.done
        ledger.stop()
        uploads.push(proxy.records.slice(fromProxy))
        downloads.push(hub.requests.slice(fromHub))
        if (!killed) {
          if (done.code !== 0) throw new Error(`${variant}: attempt ${attempt} failed: ${done.stderr}`)
          final = attempt === 0 ? outputValue(done.stdout, 'MANIFESTDIGEST') : JSON.parse(done.stdout).manifestDigest
          break
        }
      }
      const up = ledger.reuploads(uploads)
      const down = hubRereads(downloads)
      kills.forEach((k, i) =>
        rows.push({
          registry: variant,
          kill: i + 1,
          atPercent: k.atPercent,
          inFlight: k.inFlight,
          reuploadedMiB: mib(up.perKill[i]),
          boundMiB: mib(k.inFlight * CHUNK_MIB * MiB),
          rereadMiB: mib(down.perKill[i]),
        }),
      )
      summary.push({
        registry: variant,
        kills: kills.length,
        seconds: (Date.now() - started) / 1000,
        sameDigest: final === reference,
        manifestDigest: final,
        reuploadedMiB: mib(up.perKill.reduce((a, b) => a + b, 0)),
        rereadMiB: mib(down.perKill.reduce((a, b) => a + b, 0)),
        unexplainedReuploadMiB: mib(up.other),
        keptFromCutPatchesMiB: keeper ? mib(keeper.cutPatches.reduce((n, c) => n + c.bytesKept, 0)) : undefined,
      })
      await proxy.close()
      await keeper?.close()
      await reg.close()
    }
  } finally {
    killStrayClis()
    await hub.close()
  }
  console.log(`${mib(CONTENT)} MiB in ${FILES.length} files, --workers ${WORKERS}, --chunk-mib ${CHUNK_MIB}, seed ${SEED}`)
  console.table(rows)
  console.table(summary)
  writeFileSync(
    new URL('kills.json', import.meta.url),
    JSON.stringify({content: CONTENT, workers: WORKERS, chunkMiB: CHUNK_MIB, seed: SEED, rows, summary}, null, 2),
  )
  if (summary.some((s) => !s.sameDigest)) process.exitCode = 1
}

function stateDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'mc-kills-')), 'state.db')
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
