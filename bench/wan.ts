/**
 * `npm run bench:wan`: modelcar push over an emulated WAN. The Hub simulator
 * (API and CDN origins) and the real registry sit behind `lib/shaper.ts`: a
 * round trip per exchange, a rate cap per TCP connection (the Hub's CDN caps
 * each download; a registry front end each upload) and one link for all of
 * them. Rows: one big file, four shards, many small files, each in chunked,
 * stream and auto upload mode, with the link's capacity beside each. Not a
 * test: it prints a table and writes bench/wan-results.json.
 *
 *   npm run build && npm run bench:wan
 *   WAN_GIB=0.5 WAN_RTT_MS=80 npm run bench:wan
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type SimFile} from '../test/fixtures/hub/index.js'
import {registryAvailable, startRegistry} from '../test/fixtures/registry/index.js'
import {killStrayClis, outputValue, runCli} from '../test/e2e/helpers.js'
import {Link, startShaper} from './lib/shaper.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const MB = 1e6
const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt)
const GIB = env('WAN_GIB', 1)
const SMALL = env('WAN_SMALL', 200)
const RTT_MS = env('WAN_RTT_MS', 30)
const HUB_MBPS = env('WAN_HUB_MBPS', 25)
const REGISTRY_MBPS = env('WAN_REGISTRY_MBPS', 50)
const LINK_MBPS = env('WAN_LINK_MBPS', 100)
const WORKERS = env('WAN_WORKERS', 4)
const CHUNK_MIB = process.env.WAN_CHUNK_MIB
const MODES = (process.env.WAN_MODES ?? 'chunked,stream,auto').split(',')
const TIMEOUT_MIN = env('WAN_TIMEOUT_MIN', 30)
const ROWS = (process.env.WAN_ROWS ?? 'one,four,small').split(',')

const shards = (prefix: string, n: number, size: number): SimFile[] =>
  Array.from({length: n}, (_, i) => ({path: `${prefix}-${pad(i + 1)}-of-${pad(n)}.safetensors`, size, lfs: true}))
const pad = (n: number) => String(n).padStart(5, '0')
const SCENARIOS: Array<{name: string; repo: string; sha: string; files: SimFile[]}> = [
  {
    name: `1 x ${label(GIB * GiB)}`,
    repo: 'wan/one',
    sha: '0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e01',
    files: shards('one', 1, Math.floor(GIB * GiB)),
  },
  {
    name: `4 x ${label((GIB * GiB) / 2)}`,
    repo: 'wan/four',
    sha: '0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e04',
    files: shards('four', 4, Math.floor((GIB * GiB) / 2)),
  },
  {
    name: `${SMALL} x 1 MiB`,
    repo: 'wan/small',
    sha: '0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0c',
    files: Array.from({length: SMALL}, (_, i) => ({path: `small/part-${i}.bin`, size: MiB, lfs: true})),
  },
]

interface Row {
  scenario: string
  mode: string
  seconds: number
  mbPerSec: number
  linkMbPerSec: number
  linkShare: number
  registryConnections: number
  hubConnections: number
  manifestDigest: string
}

function label(bytes: number): string {
  return bytes >= GiB ? `${+(bytes / GiB).toFixed(2)} GiB` : `${+(bytes / MiB).toFixed(0)} MiB`
}

async function main(): Promise<void> {
  if (!registryAvailable()) throw new Error("bench:wan needs Debian's docker-registry (apt-get install docker-registry)")
  const deadline = setTimeout(() => {
    console.error(`bench:wan: over ${TIMEOUT_MIN} minutes, giving up`)
    killStrayClis()
    process.exit(2)
  }, TIMEOUT_MIN * 60_000)
  deadline.unref()
  const hub = await startHubSim({repos: SCENARIOS.map((s) => ({id: s.repo, commits: [{sha: s.sha, files: s.files}]}))})
  // The simulator hashes a repo's files on the first listing (the real Hub answers from its database): list each once
  // here, so the first row of a scenario is not charged seconds of the simulator's own hashing (1.8 s for 2 GiB).
  for (const s of SCENARIOS) await fetch(`${hub.endpoint}/api/models/${s.repo}/tree/${s.sha}?recursive=true`).then((r) => r.arrayBuffer())
  const rows: Row[] = []
  // One link and one pair of Hub shapers for the whole run: the manifest names
  // the Hub's address, so every row must see the same one to give the same digest.
  const link = new Link(LINK_MBPS * MB)
  const hubShaper = await startShaper(hub.endpoint.slice('http://'.length), {rttMs: RTT_MS, connBytesPerSec: HUB_MBPS * MB, link})
  const cdnShaper = await startShaper(hub.cdnOrigin.slice('http://'.length), {rttMs: RTT_MS, connBytesPerSec: HUB_MBPS * MB, link})
  // The simulator signs CDN URLs for its cdnOrigin: point them at the shaper.
  ;(hub as {cdnOrigin: string}).cdnOrigin = cdnShaper.origin
  try {
    for (const scenario of SCENARIOS.filter((s) => ROWS.includes(s.repo.slice('wan/'.length)))) {
      const content = scenario.files.reduce((n, f) => n + f.size, 0)
      for (const mode of MODES) {
        // A fresh registry and state per row: nothing learnt or stored carries over.
        const hubConnections = hubShaper.connections + cdnShaper.connections
        const reg = await startRegistry({logLevel: 'warn'})
        const regShaper = await startShaper(reg.host, {rttMs: RTT_MS, connBytesPerSec: REGISTRY_MBPS * MB, link})
        try {
          process.stderr.write(`${scenario.name}, ${mode}: `)
          const args = [
            'push',
            '--hf-repo',
            scenario.repo,
            '--registry',
            regShaper.host,
            '--target-repo',
            'wan/model',
            '--upload-mode',
            mode,
            '--workers',
            String(WORKERS),
            ...(CHUNK_MIB ? ['--chunk-mib', CHUNK_MIB] : []),
          ]
          const t0 = performance.now()
          const stateDb = join(mkdtempSync(join(tmpdir(), 'mc-wan-')), 'state.db')
          const res = await runCli(args, {HF_ENDPOINT: hubShaper.origin, MODELCAR_STATE_DB: stateDb}, {timeoutMs: TIMEOUT_MIN * 60_000})
          const seconds = (performance.now() - t0) / 1000
          if (res.code !== 0) throw new Error(`push failed (${scenario.name}, ${mode}): ${res.stderr.slice(-2000)}`)
          // Both directions carry the push at once (Hub down, registry up): the link's share is of one direction.
          const mbPerSec = content / MB / seconds
          const row = {
            scenario: scenario.name,
            mode,
            seconds: +seconds.toFixed(1),
            mbPerSec: +mbPerSec.toFixed(1),
            linkMbPerSec: LINK_MBPS,
            linkShare: +(mbPerSec / LINK_MBPS).toFixed(2),
            registryConnections: regShaper.connections,
            hubConnections: hubShaper.connections + cdnShaper.connections - hubConnections,
            manifestDigest: outputValue(res.stdout, 'MANIFESTDIGEST'),
          }
          rows.push(row)
          process.stderr.write(`${row.seconds} s, ${row.mbPerSec} MB/s\n`)
        } finally {
          await regShaper.close()
          await reg.close()
        }
      }
    }
  } finally {
    await Promise.all([hubShaper.close(), cdnShaper.close()])
    await hub.close()
  }
  for (const scenario of SCENARIOS) {
    const digests = new Set(rows.filter((r) => r.scenario === scenario.name).map((r) => r.manifestDigest))
    if (digests.size > 1) throw new Error(`${scenario.name}: the upload modes gave different manifests: ${[...digests].join(' ')}`)
  }
  const settings = {
    rttMs: RTT_MS,
    hubMBps: HUB_MBPS,
    registryMBps: REGISTRY_MBPS,
    linkMBps: LINK_MBPS,
    workers: WORKERS,
    chunkMiB: CHUNK_MIB ?? 'default',
    gib: GIB,
    small: SMALL,
  }
  console.log(
    `WAN: round trip ${RTT_MS} ms, ${HUB_MBPS} MB/s per Hub connection, ${REGISTRY_MBPS} MB/s per registry connection, ` +
      `link ${LINK_MBPS} MB/s each way; --workers ${WORKERS}, --chunk-mib ${CHUNK_MIB ?? 'default'}`,
  )
  console.log(
    [
      'scenario'.padEnd(16),
      'mode'.padEnd(8),
      'seconds'.padStart(8),
      'MB/s'.padStart(7),
      'link MB/s'.padStart(10),
      'share'.padStart(6),
      'conns hub/reg'.padStart(14),
    ].join(' '),
  )
  for (const r of rows) {
    console.log(
      [
        r.scenario.padEnd(16),
        r.mode.padEnd(8),
        String(r.seconds).padStart(8),
        String(r.mbPerSec).padStart(7),
        String(r.linkMbPerSec).padStart(10),
        `${Math.round(r.linkShare * 100)}%`.padStart(6),
        `${r.hubConnections}/${r.registryConnections}`.padStart(14),
      ].join(' '),
    )
  }
  const results = {at: new Date().toISOString(), settings, rows}
  writeFileSync(new URL('wan-results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    killStrayClis()
    process.exit(1)
  },
)
