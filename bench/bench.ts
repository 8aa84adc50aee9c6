// npm run bench — issue 6's benchmark (not a test).
//
// Starts the Hub simulator (in this process) and Debian's docker-registry (a child, via the test fixture) on
// 127.0.0.1, then measures on one repo of BENCH_SHARDS LFS shards (BENCH_GIB GiB in all) plus a few small files:
//   1. `modelcar push` at --workers 1 and --workers 4, BENCH_RUNS times each (fresh registry, state db and target
//      repo each run, --chunk-mib 8); the run of median CPU is the row, the spread of all runs its note;
//   2. today's baseline: curl every file to disk, GNU tar one layer per file, sha256sum, an OCI layout written
//      by hand, `skopeo copy --preserve-digests oci:… docker://…`;
//   3. ceilings on this machine: SHA-256 (node:crypto, hash-wasm), the simulator's serving rate (node:http, curl),
//      the registry's ingest rate for one 512 MiB monolithic upload (and, for comparison, in 8 MiB PATCHes).
// Every measured registry phase gets a fresh registry process, so no phase finds blobs another one left behind.
// Every child runs asynchronously (the simulator serves from this event loop) under /usr/bin/time.
//
// Environment: BENCH_GIB (2), BENCH_SHARDS (4), BENCH_RUNS (3), BENCH_BIG=1 (also one 9 GiB file at --workers 4 into a
// discard-everything registry, for peak RSS; BENCH_BIG_GIB to change 9), BENCH_PROFILE=1 (one more
// --workers 4 push under --cpu-prof, top self-time functions), BENCH_UPLOAD_MIB (512), BENCH_TIMEOUT_MIN (30),
// BENCH_TMPDIR (os.tmpdir()). Output: a table on stdout, progress on stderr, bench/results.json.
import {createHash} from 'node:crypto'
import {existsSync, rmSync, statSync} from 'node:fs'
import {cp, mkdir, mkdtemp, open, readdir, rename, rm, statfs, symlink, writeFile} from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {fileSha256, startHubSim, treeEntryOid, type HubSim, type SimFile} from '../test/fixtures/hub/index.js'
import {registryAvailable, startRegistry, type TestRegistry} from '../test/fixtures/registry/index.js'
import {summariseProfiles, type ProfileSummary} from './lib/cpuprofile.js'
import {
  findChildPid,
  HAVE_TIME,
  initClockTicks,
  killAllChildren,
  procCpuS,
  procPeakRssKiB,
  resetPeakRss,
  runChecked,
  runTimed,
  systemBusyS,
  waitQuiet,
  type Measured,
} from './lib/proc.js'
import {startSinkRegistry} from './lib/sink-registry.js'
import {describeDifference, parseTarPrefix} from './lib/tar-compare.js'

// ---------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------

const ROOT = new URL('..', import.meta.url).pathname
// The CLI runs from a snapshot of bin/ + dist/ taken at start (see snapshotCli): other people rebuild dist/ while
// the benchmark runs, and a push must not find half a build.
let CLI = join(ROOT, 'bin/run.js')
const PROBE = join(ROOT, 'bench/lib/probe.ts')
/** Built by `npm ci` (node-gyp); dist/lib/hash/sha256.js loads it from the package root. */
const NATIVE_SHA256 = 'build/Release/sha256_state.node'
const RESULTS = join(ROOT, 'bench/results.json')

function numberEnv(name: string, dflt: number, ok: (n: number) => boolean): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return dflt
  const n = Number(raw)
  if (!Number.isFinite(n) || !ok(n)) {
    console.error(`bench: ${name}=${raw} is not valid`)
    process.exit(2)
  }
  return n
}

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const BENCH_GIB = numberEnv('BENCH_GIB', 2, (n) => n > 0 && n <= 64)
const SHARDS = numberEnv('BENCH_SHARDS', 4, (n) => Number.isInteger(n) && n >= 1 && n <= 64)
// One push's CPU varies by ~10 % from run to run on a shared 2-core machine: a median of three says more than one.
const RUNS = numberEnv('BENCH_RUNS', 3, (n) => Number.isInteger(n) && n >= 1 && n <= 20)
const BIG = process.env.BENCH_BIG === '1'
const BIG_GIB = numberEnv('BENCH_BIG_GIB', 9, (n) => n > 0 && n <= 64)
const PROFILE = process.env.BENCH_PROFILE === '1'
const UPLOAD_BYTES = numberEnv('BENCH_UPLOAD_MIB', 512, (n) => Number.isInteger(n) && n >= 1 && n <= 16384) * MiB
const TIMEOUT_MS = numberEnv('BENCH_TIMEOUT_MIN', 30, (n) => n > 0) * 60_000
const TMP = process.env.BENCH_TMPDIR || os.tmpdir()
const QUIET_MAX_S = numberEnv('BENCH_QUIET_MAX_S', 60, (n) => n >= 0)
const CORES = os.cpus().length
const CHUNK_MIB = 8

const SHARD_BYTES = Math.floor((BENCH_GIB * GiB) / SHARDS)
const REPO = 'bench/model'
const SHA = createHash('sha1').update(`modelcar-bench ${BENCH_GIB} ${SHARDS}`).digest('hex')
const pad5 = (n: number) => String(n).padStart(5, '0')
const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2) + '\n')
const FILES: SimFile[] = [
  {
    path: 'README.md',
    size: 0,
    content: Buffer.from('---\nlicense: apache-2.0\n---\n# bench/model\n\nSynthetic weights for `npm run bench`.\n'),
  },
  {
    path: 'config.json',
    size: 0,
    content: json({architectures: ['BenchForCausalLM'], hidden_size: 4096, num_hidden_layers: 32, torch_dtype: 'bfloat16'}),
  },
  {path: 'generation_config.json', size: 0, content: json({bos_token_id: 1, eos_token_id: 2, max_new_tokens: 256})},
  {
    path: 'model.safetensors.index.json',
    size: 0,
    content: json({
      metadata: {total_size: SHARD_BYTES * SHARDS},
      weight_map: Object.fromEntries(
        Array.from({length: SHARDS}, (_, i) => [`model.layers.${i}.weight`, `model-${pad5(i + 1)}-of-${pad5(SHARDS)}.safetensors`]),
      ),
    }),
  },
  {path: 'tokenizer.json', size: 2 * MiB + 321},
  {path: 'tokenizer_config.json', size: 0, content: json({model_max_length: 8192, tokenizer_class: 'PreTrainedTokenizerFast'})},
  ...Array.from({length: SHARDS}, (_, i): SimFile => ({
    path: `model-${pad5(i + 1)}-of-${pad5(SHARDS)}.safetensors`,
    size: SHARD_BYTES,
    lfs: true,
  })),
].map((f) => (f.content ? {...f, size: f.content.length} : f))
const SHARD_FILES = FILES.filter((f) => f.lfs)
const TOTAL_BYTES = FILES.reduce((n, f) => n + f.size, 0)

const BIG_REPO = 'bench/big'
const BIG_SHA = 'b'.repeat(40)
const BIG_FILE: SimFile = {path: 'model-big.safetensors', size: Math.floor(BIG_GIB * GiB), lfs: true}

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

const t0 = Date.now()
function log(message: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6)
  process.stderr.write(`[bench ${s}s] ${message}\n`)
}

const mb = (bytes: number) => bytes / 1e6
const rate = (bytes: number, seconds: number) => (seconds > 0 ? mb(bytes) / seconds : 0)
const r2 = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 100) / 100)
const kibToMiB = (k: number | undefined) => (k === undefined ? undefined : k / 1024)
const timeoutFor = (bytes: number) => Math.max(180_000, (bytes / 5e6) * 1000) // 5 MB/s would be absurdly slow

let scratchRoot = ''
const cleanups: Array<() => Promise<void>> = []
const failures: string[] = []

async function tmpDir(prefix: string): Promise<string> {
  return mkdtemp(join(scratchRoot, prefix))
}

/** An environment for children without this shell's credentials or caches. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    DOCKER_CONFIG: join(home, '.docker'),
    NO_COLOR: '1',
    TMPDIR: home,
  }
  for (const k of ['PATH', 'LANG', 'TERM']) if (process.env[k]) env[k] = process.env[k]
  return env
}

/** Async HTTP request; reads at most `max` bytes of the body, then drops the connection. */
function httpRequest(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  max = 1 << 20,
): Promise<{status: number; headers: http.IncomingHttpHeaders; body: Buffer}> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method, headers, agent: false}, (res) => {
      const chunks: Buffer[] = []
      let n = 0
      const done = () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, max)})
      res.on('data', (d: Buffer) => {
        chunks.push(d)
        n += d.length
        if (n >= max) {
          res.destroy()
          done()
        }
      })
      res.on('end', done)
      res.on('error', () => done())
    })
    req.on('error', reject)
    req.end()
  })
}

function resolveUrl(hub: HubSim, repo: string, sha: string, path: string): string {
  return `${hub.endpoint}/${repo}/resolve/${sha}/${path.split('/').map(encodeURIComponent).join('/')}`
}

async function syncDisks(): Promise<void> {
  await runTimed('sync', [], {timeoutMs: 120_000, scratch: scratchRoot}).catch(() => undefined)
}

/** The machine may be shared: wait (bounded) until other processes leave the CPUs alone before a measurement. */
let lastQuiet = {waitedS: 0, quiet: true}
async function quiet(): Promise<void> {
  if (QUIET_MAX_S === 0) return
  lastQuiet = await waitQuiet(QUIET_MAX_S, CORES, (pct) =>
    log(`  machine is busy (${pct}% of ${CORES} CPUs used by others): waiting up to ${QUIET_MAX_S} s for quiet`),
  )
  if (!lastQuiet.quiet) log(`  still busy after ${QUIET_MAX_S} s: measuring anyway (see the "other CPU s" column)`)
}

/**
 * Copy bin/, dist/, package.json, oclif.manifest.json and the native SHA-256 addon into the scratch dir (node_modules
 * linked), so every phase runs the same build even if someone runs `npm run build` meanwhile (it deletes dist/
 * first). Retries while a build is in progress. Without the addon the CLI would fall back to node:crypto (no
 * interleaved pass, no saved hash states), which is not what a user installs.
 */
/** Which SHA-256 the snapshot's CLI loads: what the CPU figures measure. */
let cliSha256 = 'unknown'
async function snapshotSha256(): Promise<string> {
  const hash = pathToFileURL(join(CLI, '../../dist/lib/hash/sha256.js')).href
  const m = await runTimed(
    process.execPath,
    ['--input-type=module', '-e', `process.stdout.write(String((await import('${hash}')).saveableHashes))`],
    {
      timeoutMs: 60_000,
      scratch: scratchRoot,
      env: cleanEnv(scratchRoot),
    },
  )
  if (m.stdout === 'true') return 'native addon (one interleaved pass for both hashes, saveable states)'
  return `node:crypto: ${NATIVE_SHA256} is not built (npm ci builds it), so these are not the figures a user gets`
}

async function snapshotCli(): Promise<string> {
  const dir = join(scratchRoot, 'cli')
  for (let attempt = 1; ; attempt++) {
    await rm(dir, {recursive: true, force: true})
    await mkdir(dir)
    try {
      for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json', NATIVE_SHA256]) {
        if ((part === 'oclif.manifest.json' || part === NATIVE_SHA256) && !existsSync(join(ROOT, part))) continue
        await cp(join(ROOT, part), join(dir, part), {recursive: true, preserveTimestamps: true})
      }
      await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
      const m = await runTimed(process.execPath, [join(dir, 'bin/run.js'), 'push', '--help'], {
        timeoutMs: 60_000,
        scratch: scratchRoot,
        env: cleanEnv(scratchRoot),
      })
      if (m.code === 0 && existsSync(join(dir, 'dist/commands/push.js'))) return join(dir, 'bin/run.js')
      throw new Error(m.stderr.trim().split('\n')[0])
    } catch (error) {
      if (attempt >= 12)
        throw new Error(
          `cannot take a working snapshot of the CLI (is dist/ built?): ${error instanceof Error ? error.message : String(error)}`,
          {cause: error},
        )
      log(`dist/ looks mid-build (${error instanceof Error ? error.message : String(error)}); retrying in 5 s`)
      await new Promise((r) => setTimeout(r, 5000))
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Measurement of a phase: this process's CPU and peak RSS, and the registry's (a separate process)
// ---------------------------------------------------------------------------------------------------------

interface Registry {
  reg: TestRegistry
  pid?: number
}

interface Side {
  /** CPU seconds the whole machine was busy during the phase (all processes, ours included) */
  systemBusyS?: number
  benchCpuS: number
  benchRssMiB?: number
  registryCpuS?: number
  registryRssMiB?: number
}

async function measured<T>(registry: Registry | undefined, fn: () => Promise<T>): Promise<{value: T; side: Side; wallS: number}> {
  const rpid = registry?.pid
  if (rpid) resetPeakRss(rpid)
  const benchReset = resetPeakRss('self')
  const regCpu0 = rpid ? procCpuS(rpid) : undefined
  const busy0 = systemBusyS()
  const cpu0 = process.cpuUsage()
  const w0 = process.hrtime.bigint()
  const value = await fn()
  const wallS = Number(process.hrtime.bigint() - w0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const busy = systemBusyS() - busy0
  const regCpu1 = rpid ? procCpuS(rpid) : undefined
  return {
    value,
    wallS,
    side: {
      systemBusyS: busy,
      benchCpuS: (cpu.user + cpu.system) / 1e6,
      benchRssMiB: benchReset ? kibToMiB(procPeakRssKiB('self')) : undefined,
      registryCpuS: regCpu0 !== undefined && regCpu1 !== undefined ? regCpu1 - regCpu0 : undefined,
      registryRssMiB: rpid ? kibToMiB(procPeakRssKiB(rpid)) : undefined,
    },
  }
}

async function freshRegistry(): Promise<Registry> {
  const reg = await startRegistry({logLevel: 'warn'})
  cleanups.push(() => reg.close())
  const pid = await findChildPid('docker-registry')
  return {reg, pid}
}

// ---------------------------------------------------------------------------------------------------------
// Rows of the table
// ---------------------------------------------------------------------------------------------------------

interface Row {
  group: 'modelcar' | 'baseline' | 'ceiling' | 'big' | 'profile'
  name: string
  bytes: number
  wallS: number
  mbPerS: number
  /** the measured child's user + sys CPU seconds (and its descendants) */
  childCpuS?: number
  childUserS?: number
  childSysS?: number
  childRssMiB?: number
  registryCpuS?: number
  registryRssMiB?: number
  /** this process: Hub simulator (and sink registry), bookkeeping */
  benchCpuS?: number
  benchRssMiB?: number
  /** CPU seconds used on this machine during the phase by processes outside the benchmark (noise) */
  otherCpuS?: number
  /** false when the machine was not idle before the phase even after waiting */
  startedQuiet?: boolean
  note?: string
}

const rows: Row[] = []

function addRow(r: Omit<Row, 'mbPerS'> & {mbPerS?: number; systemBusyS?: number; childTotalCpuS?: number}): Row {
  const {systemBusyS: busy, childTotalCpuS, ...rest} = r
  const ours = (childTotalCpuS ?? r.childCpuS ?? 0) + (r.registryCpuS ?? 0) + (r.benchCpuS ?? 0)
  const row: Row = {
    ...rest,
    mbPerS: r.mbPerS ?? rate(r.bytes, r.wallS),
    otherCpuS: busy === undefined ? undefined : Math.max(0, busy - ours),
    startedQuiet: r.startedQuiet ?? lastQuiet.quiet,
  }
  rows.push(row)
  const cpu = row.childCpuS !== undefined ? `, ${row.childCpuS.toFixed(2)} CPU-s` : ''
  log(`${row.name}: ${row.wallS.toFixed(2)} s, ${row.mbPerS.toFixed(0)} MB/s${cpu}`)
  return row
}

function childCols(m: Pick<Measured, 'userS' | 'sysS' | 'maxRssKiB'>): Pick<Row, 'childCpuS' | 'childUserS' | 'childSysS' | 'childRssMiB'> {
  return {
    childCpuS: m.userS !== undefined && m.sysS !== undefined ? m.userS + m.sysS : undefined,
    childUserS: m.userS,
    childSysS: m.sysS,
    childRssMiB: kibToMiB(m.maxRssKiB),
  }
}

type RunCols = Pick<Row, 'wallS' | 'childCpuS' | 'childRssMiB'>

/** Each run's CPU per GiB of content, peak RSS and wall, as ranges. */
function spread(runs: RunCols[]): string {
  const range = (xs: number[], d: number) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`
  const cpu = range(
    runs.map((r) => (r.childCpuS ?? NaN) / (TOTAL_BYTES / GiB)),
    2,
  )
  const rss = range(
    runs.map((r) => r.childRssMiB ?? NaN),
    0,
  )
  const wall = range(
    runs.map((r) => r.wallS),
    2,
  )
  return `${cpu} CPU-s/GiB, ${rss} MiB, ${wall} s`
}

// ---------------------------------------------------------------------------------------------------------
// 1. modelcar push
// ---------------------------------------------------------------------------------------------------------

interface PushJson {
  manifestDigest: string
  files: Array<{path: string; digest: string; size: number; contentSha256: string; outcome: string}>
}

async function modelcarPush(
  hub: HubSim,
  host: string,
  o: {label: string; repo: string; workers: number; registry?: Registry; bytes: number; nodeArgs?: string[]},
) {
  const dir = await tmpDir(`push-${o.label}-`)
  const args = [
    ...(o.nodeArgs ?? []),
    CLI,
    'push',
    '--hf-repo',
    o.repo,
    '--registry',
    host,
    '--target-repo',
    `bench/${o.label}`,
    '--workers',
    String(o.workers),
    '--chunk-mib',
    String(CHUNK_MIB),
    '--json',
  ]
  const env = {...cleanEnv(dir), HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: join(dir, 'state.db')}
  await quiet()
  log(`modelcar push --workers ${o.workers} → ${host}/bench/${o.label}`)
  const {value: m, side} = await measured(o.registry, () =>
    runTimed(process.execPath, args, {
      env,
      cwd: ROOT,
      timeoutMs: timeoutFor(o.bytes),
      scratch: scratchRoot,
      onStderrLine: (l) => log(`  [${o.label}] ${l}`),
    }),
  )
  if (m.code !== 0)
    throw new Error(`modelcar push (${o.label}) failed, exit ${m.code ?? m.signal}:\n${m.stderr.trim().split('\n').slice(-25).join('\n')}`)
  const result = JSON.parse(m.stdout) as PushJson
  const notUploaded = result.files.filter((f) => f.outcome !== 'uploaded')
  if (notUploaded.length > 0)
    failures.push(`${o.label}: files not uploaded but ${notUploaded.map((f) => `${f.path}=${f.outcome}`).join(', ')}`)
  return {m, side, result, dir}
}

// ---------------------------------------------------------------------------------------------------------
// 2. Baseline: curl → GNU tar → sha256sum → OCI layout → skopeo copy
// ---------------------------------------------------------------------------------------------------------

interface BaselineLayer {
  path: string
  digest: string
  size: number
  prefix: Buffer
}

async function baseline(
  hub: HubSim,
  registry: Registry,
): Promise<{layers: BaselineLayer[]; manifestDigest: string; work: string; total: Row}> {
  const work = await tmpDir('baseline-')
  const layersDir = join(work, 'layers')
  const layoutDir = join(work, 'oci')
  await mkdir(layersDir)
  const opt = (bytes: number) => ({cwd: work, env: cleanEnv(join(work, 'home')), timeoutMs: timeoutFor(bytes), scratch: scratchRoot})
  await mkdir(join(work, 'home'))
  let wallSum = 0
  let quietAll = true
  const step = async () => {
    await quiet()
    quietAll &&= lastQuiet.quiet
  }
  const sums: Side = {benchCpuS: 0, systemBusyS: 0}
  const addSide = (s: Side) => {
    sums.benchCpuS += s.benchCpuS
    sums.systemBusyS = (sums.systemBusyS ?? 0) + (s.systemBusyS ?? 0)
    sums.registryCpuS = (sums.registryCpuS ?? 0) + (s.registryCpuS ?? 0)
    sums.benchRssMiB = Math.max(sums.benchRssMiB ?? 0, s.benchRssMiB ?? 0)
    sums.registryRssMiB = Math.max(sums.registryRssMiB ?? 0, s.registryRssMiB ?? 0)
  }
  const child: {cpu: number; rss: number} = {cpu: 0, rss: 0}
  const addChild = (c: Pick<Row, 'childCpuS' | 'childRssMiB'>, wallS: number) => {
    child.cpu += c.childCpuS ?? 0
    child.rss = Math.max(child.rss, c.childRssMiB ?? 0)
    wallSum += wallS
  }

  // download: one curl, files one after another, following the Hub's 302/307 redirects
  log('baseline: curl -L -o every file')
  const curlArgs = ['-sS', '-f', '-L', '--create-dirs']
  for (const f of FILES) curlArgs.push('-o', join('models', f.path), resolveUrl(hub, REPO, SHA, f.path))
  await step()
  const dl = await measured(registry, () => runChecked('curl', 'curl', curlArgs, opt(TOTAL_BYTES)))
  for (const f of FILES) {
    const size = statSync(join(work, 'models', f.path)).size // tiny stat, no I/O of note
    if (size !== f.size) throw new Error(`baseline: curl wrote ${size} bytes of ${f.path}, expected ${f.size}`)
  }
  addSide(dl.side)
  addChild(childCols(dl.value), dl.wallS)
  addRow({
    group: 'baseline',
    name: 'baseline: download (curl -L -o)',
    bytes: TOTAL_BYTES,
    wallS: dl.wallS,
    ...childCols(dl.value),
    ...dl.side,
  })

  // one uncompressed layer per file
  log(`baseline: GNU tar, one layer per file (${FILES.length} tar processes)`)
  const tarOf = (i: number) => join(layersDir, `${i}.tar`)
  await step()
  const tar = await measured(registry, async () => {
    const parts: Measured[] = []
    for (const [i, f] of FILES.entries()) {
      parts.push(
        await runChecked(
          'tar',
          'tar',
          ['--format=posix', '-cf', tarOf(i), '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', `models/${f.path}`],
          opt(f.size),
        ),
      )
    }
    return parts
  })
  const tarCols = {
    childCpuS: tar.value.reduce((n, m) => n + (m.userS ?? 0) + (m.sysS ?? 0), 0),
    childUserS: tar.value.reduce((n, m) => n + (m.userS ?? 0), 0),
    childSysS: tar.value.reduce((n, m) => n + (m.sysS ?? 0), 0),
    childRssMiB: Math.max(...tar.value.map((m) => kibToMiB(m.maxRssKiB) ?? 0)),
  }
  addSide(tar.side)
  addChild(tarCols, tar.wallS)
  addRow({
    group: 'baseline',
    name: `baseline: tar --format=posix ×${FILES.length}`,
    bytes: TOTAL_BYTES,
    wallS: tar.wallS,
    ...tarCols,
    ...tar.side,
  })

  // digests
  log('baseline: sha256sum')
  const tars = FILES.map((_, i) => tarOf(i))
  await step()
  const sum = await measured(registry, () => runChecked('sha256sum', 'sha256sum', tars, opt(TOTAL_BYTES * 4)))
  const digestOf = new Map(
    sum.value.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [hex, file] = l.split(/\s+\*?/)
        return [file, `sha256:${hex}`] as const
      }),
  )
  const layerBytes = tars.reduce((n, t) => n + statSync(t).size, 0)
  addSide(sum.side)
  addChild(childCols(sum.value), sum.wallS)
  addRow({
    group: 'baseline',
    name: 'baseline: sha256sum',
    bytes: layerBytes,
    wallS: sum.wallS,
    ...childCols(sum.value),
    ...sum.side,
    note: 'bytes = layer bytes',
  })

  // OCI layout by hand (in this process: rename the tars into blobs/, write four small JSON files)
  log('baseline: OCI layout')
  const layout = await measured(registry, async () => {
    const layers: BaselineLayer[] = []
    await mkdir(join(layoutDir, 'blobs', 'sha256'), {recursive: true})
    for (const [i, f] of FILES.entries()) {
      const digest = digestOf.get(tarOf(i))
      if (!digest) throw new Error(`baseline: no sha256sum line for ${tarOf(i)}`)
      const size = statSync(tarOf(i)).size
      const fh = await open(tarOf(i), 'r')
      const prefix = Buffer.alloc(Math.min(size, 8192))
      await fh.read(prefix, 0, prefix.length, 0)
      await fh.close()
      await rename(tarOf(i), join(layoutDir, 'blobs', 'sha256', digest.slice(7)))
      layers.push({path: f.path, digest, size, prefix})
    }
    layers.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    const blob = async (bytes: Buffer) => {
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
      await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7)), bytes)
      return {digest, size: bytes.length}
    }
    const config = await blob(
      Buffer.from(
        JSON.stringify({architecture: 'amd64', os: 'linux', config: {}, rootfs: {type: 'layers', diff_ids: layers.map((l) => l.digest)}}),
      ),
    )
    const manifest = await blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...config},
          layers: layers.map((l) => ({
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: l.digest,
            size: l.size,
            annotations: {'org.opencontainers.image.title': l.path},
          })),
        }),
      ),
    )
    await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}))
    await writeFile(
      join(layoutDir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            annotations: {'org.opencontainers.image.ref.name': 'bench'},
          },
        ],
      }),
    )
    return {layers, manifestDigest: manifest.digest}
  })
  addSide(layout.side)
  addChild({}, layout.wallS)
  addRow({
    group: 'baseline',
    name: 'baseline: OCI layout (in-process)',
    bytes: layerBytes,
    wallS: layout.wallS,
    ...layout.side,
    note: 'runs in the bench process',
  })

  // push
  log('baseline: skopeo copy --preserve-digests oci: → docker://')
  const target = `${registry.reg.host}/bench/baseline:bench`
  await step()
  const sk = await measured(registry, () =>
    runChecked(
      'skopeo copy',
      'skopeo',
      ['copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${layoutDir}:bench`, `docker://${target}`],
      opt(layerBytes),
    ),
  )
  addSide(sk.side)
  addChild(childCols(sk.value), sk.wallS)
  addRow({group: 'baseline', name: 'baseline: skopeo copy', bytes: layerBytes, wallS: sk.wallS, ...childCols(sk.value), ...sk.side})
  const total = addRow({
    group: 'baseline',
    name: 'baseline: total',
    bytes: TOTAL_BYTES,
    wallS: wallSum,
    childCpuS: child.cpu,
    childRssMiB: child.rss,
    ...sums,
    startedQuiet: quietAll,
    note: 'sum of the steps (run back to back, apart from waits for a quiet machine); child CPU summed, RSS = max',
  })

  // Did skopeo keep the layers as they are (uncompressed, same digests)?
  const got = await httpRequest('GET', `${registry.reg.url}/v2/bench/baseline/manifests/bench`, {
    accept: 'application/vnd.oci.image.manifest.v1+json',
  })
  if (got.status !== 200) throw new Error(`baseline: the registry has no manifest after skopeo copy (HTTP ${got.status})`)
  const pushed = JSON.parse(got.body.toString()) as {layers: Array<{mediaType: string; digest: string}>}
  const gotDigest = `sha256:${createHash('sha256').update(got.body).digest('hex')}`
  const compressed = pushed.layers.filter((l) => l.mediaType !== 'application/vnd.oci.image.layer.v1.tar')
  if (compressed.length > 0)
    throw new Error(
      `baseline: skopeo changed layer media types to ${[...new Set(compressed.map((l) => l.mediaType))].join(', ')}: the comparison would be meaningless`,
    )
  const want = layout.value.layers.map((l) => l.digest).join(',')
  if (pushed.layers.map((l) => l.digest).join(',') !== want)
    throw new Error('baseline: the pushed layer digests are not the ones in the OCI layout')
  if (gotDigest !== layout.value.manifestDigest)
    failures.push(`baseline: skopeo pushed manifest ${gotDigest}, the layout has ${layout.value.manifestDigest}`)
  log('baseline: checked: layers stayed uncompressed tar with their digests')
  return {...layout.value, work, total}
}

/**
 * Untimed: can GNU tar make modelcar's exact layer? ustar format, one record = one block, the parent directories
 * listed explicitly, fixed modes. Streams tar's stdout through SHA-256 here.
 */
async function gnuTarReproduces(work: string, path: string): Promise<string> {
  const parts = path.split('/')
  const names = ['models/', ...parts.slice(0, -1).map((_, i) => `models/${parts.slice(0, i + 1).join('/')}/`), `models/${path}`]
  const h = createHash('sha256')
  const m = await runTimed(
    'tar',
    [
      '--format=ustar',
      '--blocking-factor=1',
      '--no-recursion',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      '--mode=a=rX,u+w',
      '-cf',
      '-',
      ...names,
    ],
    {
      cwd: work,
      timeoutMs: 300_000,
      scratch: scratchRoot,
      stdoutSink: (d) => h.update(d),
    },
  )
  if (m.code !== 0) return `tar failed: ${m.stderr.trim().split('\n')[0]}`
  return `sha256:${h.digest('hex')}`
}

// ---------------------------------------------------------------------------------------------------------
// 3. Ceilings
// ---------------------------------------------------------------------------------------------------------

interface ProbeOut {
  wallS: number
  userS: number
  sysS: number
  bytes: number
  digests?: Record<string, string>
  state?: {stateBytes: number; saveUs: number; loadUs: number; roundTrip: boolean}
  requests?: number
}

async function probe(name: string, arg: unknown, registry?: Registry, timeoutBytes = 0): Promise<{out: ProbeOut; m: Measured; side: Side}> {
  await quiet()
  const {value: m, side} = await measured(registry, () =>
    runChecked(`probe ${name}`, process.execPath, ['--import', 'tsx', PROBE, name, JSON.stringify(arg)], {
      cwd: ROOT,
      env: {...cleanEnv(scratchRoot)},
      timeoutMs: timeoutFor(timeoutBytes),
      scratch: scratchRoot,
    }),
  )
  return {out: JSON.parse(m.stdout.trim().split('\n').pop()!) as ProbeOut, m, side}
}

function probeRow(group: Row['group'], name: string, p: {out: ProbeOut; m: Measured; side: Side}, note?: string): Row {
  // wall and CPU of the measured section (from the probe itself); RSS of the whole child
  return addRow({
    group,
    name,
    bytes: p.out.bytes,
    wallS: p.out.wallS,
    childCpuS: p.out.userS + p.out.sysS,
    childUserS: p.out.userS,
    childSysS: p.out.sysS,
    childRssMiB: kibToMiB(p.m.maxRssKiB),
    childTotalCpuS: (p.m.userS ?? 0) + (p.m.sysS ?? 0),
    ...p.side,
    note,
  })
}

// ---------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------

function table(list: Row[]): string {
  const head = ['', 'wall s', 'MB/s', 'CPU s', 'RSS MiB', 'reg CPU s', 'reg RSS', 'bench CPU s', 'other CPU s']
  const f = (n: number | undefined, d = 2) => (n === undefined ? '—' : n.toFixed(d))
  const noisy = (r: Row) => !r.startedQuiet || (r.otherCpuS ?? 0) > 0.1 * r.wallS * CORES
  const body = list.map((r) => [
    r.name,
    f(r.wallS),
    f(r.mbPerS, 0),
    f(r.childCpuS),
    f(r.childRssMiB, 0),
    f(r.registryCpuS),
    f(r.registryRssMiB, 0),
    f(r.benchCpuS),
    `${f(r.otherCpuS)}${noisy(r) ? ' !' : ''}`,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

async function toolVersions(): Promise<Record<string, string>> {
  const v: Record<string, string> = {node: process.version}
  for (const [name, cmd, args] of [
    ['curl', 'curl', ['--version']],
    ['tar', 'tar', ['--version']],
    ['sha256sum', 'sha256sum', ['--version']],
    ['skopeo', 'skopeo', ['--version']],
    ['docker-registry', '/usr/bin/docker-registry', ['--version']],
  ] as Array<[string, string, string[]]>) {
    const m = await runTimed(cmd, args, {timeoutMs: 20_000, scratch: scratchRoot}).catch(() => undefined)
    v[name] = m && m.code === 0 ? m.stdout.trim().split('\n')[0] : 'missing'
  }
  const head = await runTimed('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], {timeoutMs: 20_000, scratch: scratchRoot}).catch(
    () => undefined,
  )
  const dirty = await runTimed('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], {timeoutMs: 20_000, scratch: scratchRoot}).catch(
    () => undefined,
  )
  v.modelcar = `${head?.stdout.trim() || '?'}${dirty?.stdout.trim() ? ' + uncommitted src/ changes' : ''} (bench runs dist/: rebuild to bench src/)`
  return v
}

async function main(): Promise<void> {
  if (!registryAvailable()) throw new Error('docker-registry is missing: apt-get install docker-registry')
  await mkdir(TMP, {recursive: true})
  scratchRoot = await mkdtemp(join(TMP, 'modelcar-bench-'))
  cleanups.push(() => rm(scratchRoot, {recursive: true, force: true}))
  await initClockTicks()
  CLI = await snapshotCli()
  const versions = await toolVersions()
  for (const tool of ['curl', 'tar', 'sha256sum', 'skopeo']) if (versions[tool] === 'missing') throw new Error(`${tool} is missing`)
  const fsInfo = await statfs(TMP)
  const free = fsInfo.bavail * fsInfo.bsize
  const need = TOTAL_BYTES * 3.2 + GiB
  if (free < need)
    throw new Error(`not enough disk under ${TMP}: ${(free / GiB).toFixed(1)} GiB free, need ~${(need / GiB).toFixed(1)} GiB`)
  log(
    `${SHARDS} × ${(SHARD_BYTES / MiB).toFixed(0)} MiB shards + ${FILES.length - SHARDS} small files = ${mb(TOTAL_BYTES).toFixed(0)} MB; scratch ${scratchRoot}; /usr/bin/time: ${HAVE_TIME ? 'yes' : 'no (node children report resourceUsage, others wall only)'}`,
  )
  const dirtyDist = statSync(join(CLI, '../../dist/commands/push.js')).mtimeMs < statSync(join(ROOT, 'src/commands/push.ts')).mtimeMs
  if (dirtyDist) log('warning: dist/ is older than src/commands/push.ts: run `npm run build` to bench the current code')
  cliSha256 = await snapshotSha256()
  log(`SHA-256 in the CLI: ${cliSha256}`)

  const hub = await startHubSim({
    repos: [
      {id: REPO, commits: [{sha: SHA, files: FILES}]},
      ...(BIG ? [{id: BIG_REPO, commits: [{sha: BIG_SHA, files: [BIG_FILE]}]}] : []),
    ],
  })
  cleanups.push(() => hub.close())
  log(`Hub simulator ${hub.endpoint}; pre-computing the simulator's sha256s (not timed)`)
  await Promise.all(FILES.map((f) => treeEntryOid(f)))
  const shardSha = new Map(await Promise.all(SHARD_FILES.map(async (f) => [f.path, await fileSha256(f)] as const)))

  // ---- 1. modelcar
  const pushes: Record<string, {result: PushJson; row: Row; runs: RunCols[]}> = {}
  let modelcarPrefixes = new Map<string, Buffer>()
  for (const workers of [1, 4]) {
    const label = `modelcar-w${workers}`
    const runs: Array<{cols: RunCols & Omit<Row, 'group' | 'name' | 'bytes' | 'mbPerS'>; result: PushJson}> = []
    let registry: Registry | undefined
    for (let run = 0; run < RUNS; run++) {
      await registry?.reg.close()
      await syncDisks()
      registry = await freshRegistry()
      const {m, side, result} = await modelcarPush(hub, registry.reg.host, {label, repo: REPO, workers, registry, bytes: TOTAL_BYTES})
      runs.push({cols: {wallS: m.wallS, ...childCols(m), ...side}, result})
    }
    if (new Set(runs.map((r) => r.result.manifestDigest)).size > 1) failures.push(`${label}: runs gave different manifest digests`)
    const byCpu = [...runs].sort((a, b) => (a.cols.childCpuS ?? 0) - (b.cols.childCpuS ?? 0))
    const median = byCpu[Math.floor((byCpu.length - 1) / 2)]
    const row = addRow({
      group: 'modelcar',
      name: `modelcar push --workers ${workers}`,
      bytes: TOTAL_BYTES,
      ...median.cols,
      note: RUNS > 1 ? `median-CPU run of ${RUNS}: ${spread(runs.map((r) => r.cols))}` : undefined,
    })
    const result = runs.at(-1)!.result
    pushes[label] = {result, row, runs: runs.map((r) => r.cols)}
    if (workers === 4) {
      // the first 8 KiB of each layer, for the comparison with the baseline's tar headers
      modelcarPrefixes = new Map(
        await Promise.all(
          result.files.map(async (f) => {
            const r = await httpRequest('GET', `${registry!.reg.url}/v2/bench/${label}/blobs/${f.digest}`, {range: 'bytes=0-8191'}, 8192)
            return [f.path, r.body] as const
          }),
        ),
      )
    }
    await registry!.reg.close()
  }
  const w1 = pushes['modelcar-w1'].result
  const w4 = pushes['modelcar-w4'].result
  const manifestsEqual = w1.manifestDigest === w4.manifestDigest
  if (!manifestsEqual) failures.push(`manifest digests differ: --workers 1 ${w1.manifestDigest}, --workers 4 ${w4.manifestDigest}`)
  else log(`check: both pushes gave manifest ${w1.manifestDigest}`)
  for (const f of w4.files) {
    const want = shardSha.get(f.path)
    if (want && f.contentSha256 !== want) failures.push(`${f.path}: modelcar content sha256 ${f.contentSha256}, simulator ${want}`)
  }

  // ---- 2. baseline
  await syncDisks()
  const baseRegistry = await freshRegistry()
  const base = await baseline(hub, baseRegistry)
  await baseRegistry.reg.close()
  log('comparing layers (GNU tar reproduction attempt is not timed)')
  const comparison = []
  for (const f of FILES) {
    const mc = w4.files.find((x) => x.path === f.path)!
    const bl = base.layers.find((x) => x.path === f.path)!
    const differences =
      mc.digest === bl.digest
        ? []
        : describeDifference(parseTarPrefix(bl.prefix), parseTarPrefix(modelcarPrefixes.get(f.path) ?? Buffer.alloc(0)), {
            baseline: bl.size,
            modelcar: mc.size,
            content: f.size,
          })
    const reproduced = await gnuTarReproduces(base.work, f.path)
    comparison.push({
      path: f.path,
      modelcar: {digest: mc.digest, size: mc.size},
      baseline: {digest: bl.digest, size: bl.size},
      equal: mc.digest === bl.digest,
      differences,
      gnuTarUstarDigest: reproduced,
      gnuTarUstarEqual: reproduced === mc.digest,
    })
  }
  await rm(base.work, {recursive: true, force: true})

  // ---- 3. ceilings
  await syncDisks()
  const ceilings: Record<string, Row> = {}
  let wasmState: ProbeOut['state']
  const shardsArg = SHARD_FILES.map((f) => ({path: f.path, size: f.size}))
  for (const [algo, updateBytes, label] of [
    ['node', 8 * MiB, '8 MiB'],
    ['node', 64 * 1024, '64 KiB'],
    ['wasm', 8 * MiB, '8 MiB'],
    ['wasm', 64 * 1024, '64 KiB'],
  ] as const) {
    log(`ceiling: SHA-256 ${algo === 'node' ? 'node:crypto' : 'hash-wasm'}, ${label} updates, over the shards`)
    const p = await probe('hash', {algo, updateBytes, files: shardsArg}, undefined, SHARD_BYTES * SHARDS * 4)
    for (const [path, hex] of Object.entries(p.out.digests ?? {})) {
      if (hex !== shardSha.get(path)) failures.push(`hash probe ${algo}: ${path} ${hex} ≠ simulator ${shardSha.get(path)}`)
    }
    if (p.out.state) wasmState = p.out.state
    ceilings[`sha256-${algo}-${label}`] = probeRow(
      'ceiling',
      `ceiling: SHA-256 ${algo === 'node' ? 'node:crypto' : 'hash-wasm'} (${label} updates)`,
      p,
      'measured section only',
    )
  }
  const shard = SHARD_FILES[0]
  const shardUrl = resolveUrl(hub, REPO, SHA, shard.path)
  log('ceiling: Hub simulator → node:http, one shard')
  ceilings['hub-node'] = probeRow(
    'ceiling',
    'ceiling: Hub sim → node:http (1 shard)',
    await probe('download', {url: shardUrl}, undefined, shard.size),
    'measured section only',
  )
  log('ceiling: Hub simulator → curl, one shard')
  await quiet()
  const curl = await measured(undefined, () =>
    runChecked('curl', 'curl', ['-sS', '-f', '-L', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', shardUrl], {
      timeoutMs: timeoutFor(shard.size),
      scratch: scratchRoot,
    }),
  )
  const [curlBytes, curlS] = curl.value.stdout.trim().split(' ').map(Number)
  if (curlBytes !== shard.size) failures.push(`curl ceiling downloaded ${curlBytes} bytes, expected ${shard.size}`)
  ceilings['hub-curl'] = addRow({
    group: 'ceiling',
    name: 'ceiling: Hub sim → curl (1 shard)',
    bytes: curlBytes,
    wallS: curlS || curl.wallS,
    ...childCols(curl.value),
    ...curl.side,
    note: "wall = curl's time_total",
  })
  await syncDisks()
  const ingestRegistry = await freshRegistry()
  log(`ceiling: registry ingest, POST + one streamed PUT of ${UPLOAD_BYTES / MiB} MiB`)
  ceilings['registry-put'] = probeRow(
    'ceiling',
    `ceiling: registry ingest, 1 PUT ${UPLOAD_BYTES / MiB} MiB`,
    await probe(
      'upload',
      {registry: ingestRegistry.reg.url, repo: 'bench/ingest-put', size: UPLOAD_BYTES, mode: 'put', chunkBytes: 0},
      ingestRegistry,
      UPLOAD_BYTES,
    ),
    'measured section only',
  )
  await syncDisks()
  log(`ceiling (extra): registry ingest, ${CHUNK_MIB} MiB PATCHes of ${UPLOAD_BYTES / MiB} MiB`)
  ceilings['registry-patch'] = probeRow(
    'ceiling',
    `extra: registry ingest, ${CHUNK_MIB} MiB PATCHes`,
    await probe(
      'upload',
      {registry: ingestRegistry.reg.url, repo: 'bench/ingest-patch', size: UPLOAD_BYTES, mode: 'patch', chunkBytes: CHUNK_MIB * MiB},
      ingestRegistry,
      UPLOAD_BYTES,
    ),
    'as modelcar sends them; not part of the "slowest ceiling"',
  )
  await ingestRegistry.reg.close()

  // ---- optional: peak RSS for one 9 GiB file, into a registry that keeps nothing
  let big: Record<string, unknown> | undefined
  if (BIG) {
    try {
      log(`BENCH_BIG: pre-computing the sha256 of the ${BIG_GIB} GiB file (not timed)`)
      await treeEntryOid(BIG_FILE)
      const sink = await startSinkRegistry()
      cleanups.push(() => sink.close())
      const {m, side, result} = await modelcarPush(hub, sink.host, {
        label: 'modelcar-big',
        repo: BIG_REPO,
        workers: 4,
        bytes: BIG_FILE.size,
      })
      const row = addRow({
        group: 'big',
        name: `modelcar push ${BIG_GIB} GiB file --workers 4 (sink)`,
        bytes: BIG_FILE.size,
        wallS: m.wallS,
        ...childCols(m),
        ...side,
        note: 'sink registry in the bench process hashes and drops the bytes',
      })
      const layer = result.files[0]
      if (sink.blobs.get(layer.digest) !== layer.size) failures.push(`BENCH_BIG: the sink holds no ${layer.size}-byte blob ${layer.digest}`)
      big = {
        fileBytes: BIG_FILE.size,
        layerBytes: layer.size,
        digest: layer.digest,
        peakRssMiB: row.childRssMiB,
        wallS: row.wallS,
        mbPerS: row.mbPerS,
      }
      await sink.close()
    } catch (error) {
      failures.push(`BENCH_BIG: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  // ---- optional: where the CLI's CPU goes (node --cpu-prof: not allowed in NODE_OPTIONS, so a node flag)
  let profile: (ProfileSummary & {wallS: number}) | undefined
  if (PROFILE) {
    try {
      await syncDisks()
      const registry = await freshRegistry()
      const dir = await tmpDir('cpuprof-')
      const {m} = await modelcarPush(hub, registry.reg.host, {
        label: 'modelcar-prof',
        repo: REPO,
        workers: 4,
        registry,
        bytes: TOTAL_BYTES,
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      })
      await registry.reg.close()
      const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f))
      profile = {...(await summariseProfiles(files, 15)), wallS: m.wallS}
    } catch (error) {
      failures.push(`BENCH_PROFILE: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  // ---- report
  const slowestOf = [ceilings['sha256-node-64 KiB'], ceilings['hub-node'], ceilings['registry-put']]
  const slowest = slowestOf.reduce((a, b) => (b.mbPerS < a.mbPerS ? b : a))
  const mc1 = pushes['modelcar-w1'].row
  const mc4 = pushes['modelcar-w4'].row
  const ratios = {
    wallModelcarW1OverBaseline: r2(mc1.wallS / base.total.wallS),
    wallModelcarW4OverBaseline: r2(mc4.wallS / base.total.wallS),
    throughputModelcarW1OverSlowestCeiling: r2(mc1.mbPerS / slowest.mbPerS),
    throughputModelcarW4OverSlowestCeiling: r2(mc4.mbPerS / slowest.mbPerS),
    slowestCeiling: slowest.name,
    slowestCeilingMbPerS: r2(slowest.mbPerS),
  }

  const out: string[] = []
  out.push(`modelcar ${versions.modelcar}`)
  out.push(
    `modelcar bench: ${SHARDS} × ${(SHARD_BYTES / MiB).toFixed(0)} MiB LFS shards + ${FILES.length - SHARDS} small files = ${mb(TOTAL_BYTES).toFixed(1)} MB; ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / GiB).toFixed(0)} GiB RAM, node ${process.version}`,
  )
  out.push('MB/s = decimal MB of file content per wall second. CPU s = user+sys of the measured child (and its children); RSS = its peak.')
  out.push('reg = the docker-registry process (fresh per phase); bench = this process, which serves the Hub simulator.')
  out.push('Ceiling rows time only the measured section inside the probe; RSS is the whole probe process.')
  out.push(
    `other = CPU used by processes outside the benchmark during the phase; "!" = the machine was not quiet (other > 10% of ${CORES} CPUs, or busy when the phase began).`,
  )
  out.push('')
  out.push(table(rows.filter((r) => r.group !== 'profile')))
  out.push('')
  out.push(
    `modelcar / baseline wall time:   --workers 1 ${ratios.wallModelcarW1OverBaseline}, --workers 4 ${ratios.wallModelcarW4OverBaseline}  (< 1: modelcar is faster)`,
  )
  out.push(
    `modelcar / slowest ceiling (${slowest.name.replace('ceiling: ', '')}, ${slowest.mbPerS.toFixed(0)} MB/s) throughput:   --workers 1 ${ratios.throughputModelcarW1OverSlowestCeiling}, --workers 4 ${ratios.throughputModelcarW4OverSlowestCeiling}`,
  )
  for (const label of ['modelcar-w1', 'modelcar-w4'])
    out.push(`${pushes[label].row.name}, ${RUNS} run${RUNS > 1 ? 's' : ''}: ${spread(pushes[label].runs)} (the row: the run of median CPU)`)
  if (wasmState)
    out.push(
      `hash-wasm state: ${wasmState.stateBytes} bytes, save() ${wasmState.saveUs.toFixed(2)} µs, load() ${wasmState.loadUs.toFixed(2)} µs, round trip ${wasmState.roundTrip ? 'ok' : 'WRONG DIGEST'}`,
    )
  out.push(`check: manifest digest --workers 1 == --workers 4: ${manifestsEqual ? 'yes' : 'NO'} (${w1.manifestDigest})`)
  out.push('check: baseline layer digest == modelcar layer digest (informative):')
  for (const c of comparison) {
    out.push(
      `  ${c.equal ? 'same   ' : 'differs'}  ${c.path}  modelcar ${c.modelcar.digest.slice(7, 19)} (${c.modelcar.size} B)  baseline ${c.baseline.digest.slice(7, 19)} (${c.baseline.size} B)  GNU tar ustar reproduction: ${c.gnuTarUstarEqual ? 'identical' : c.gnuTarUstarDigest.startsWith('sha256:') ? 'differs' : c.gnuTarUstarDigest}`,
    )
  }
  const first = comparison.find((c) => !c.equal && c.differences.length > 0)
  if (first) {
    out.push(`  why (${first.path}; the others are alike):`)
    for (const d of first.differences) out.push(`    - ${d}`)
  }
  if (comparison.every((c) => c.gnuTarUstarEqual)) {
    out.push(
      "  GNU tar gives modelcar's exact layers with: tar --format=ustar --blocking-factor=1 --no-recursion --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=a=rX,u+w -cf - models/ <parent dirs>/ models/<path>",
    )
  }
  if (big)
    out.push(
      `BENCH_BIG: ${BIG_GIB} GiB file at --workers 4: peak RSS ${(big.peakRssMiB as number | undefined)?.toFixed(0) ?? '?'} MiB, ${(big.mbPerS as number).toFixed(0)} MB/s`,
    )
  if (profile) {
    out.push('')
    out.push(
      `CPU profile of one more --workers 4 push (wall ${profile.wallS.toFixed(1)} s under --cpu-prof, main thread ${(profile.totalMs / 1000).toFixed(1)} s sampled), top self time:`,
    )
    for (const l of profile.functions)
      out.push(`  ${l.pct.toFixed(1).padStart(5)}%  ${String(l.selfMs).padStart(6)} ms  ${l.name}  ${l.where}`)
    out.push('  by module:')
    for (const l of profile.modules.slice(0, 10))
      out.push(`  ${l.pct.toFixed(1).padStart(5)}%  ${String(l.selfMs).padStart(6)} ms  ${l.name}`)
  }
  if (failures.length > 0) {
    out.push('')
    out.push('FAILED CHECKS:')
    for (const f of failures) out.push(`  - ${f}`)
  }
  process.stdout.write(out.join('\n') + '\n')

  await writeFile(
    RESULTS,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model.trim(),
          memGiB: Math.round(os.totalmem() / GiB),
          versions,
          usrBinTime: HAVE_TIME,
        },
        config: {
          benchGiB: BENCH_GIB,
          shards: SHARDS,
          shardBytes: SHARD_BYTES,
          totalBytes: TOTAL_BYTES,
          files: FILES.map((f) => ({path: f.path, size: f.size, lfs: Boolean(f.lfs)})),
          chunkMiB: CHUNK_MIB,
          cliSha256,
          uploadCeilingBytes: UPLOAD_BYTES,
          runs: RUNS,
        },
        ratios,
        modelcarRuns: Object.fromEntries(Object.entries(pushes).map(([label, p]) => [label, p.runs])),
        rows: rows.map((r) => ({
          ...r,
          wallS: r2(r.wallS),
          mbPerS: r2(r.mbPerS),
          childCpuS: r2(r.childCpuS),
          childUserS: r2(r.childUserS),
          childSysS: r2(r.childSysS),
          childRssMiB: r2(r.childRssMiB),
          registryCpuS: r2(r.registryCpuS),
          registryRssMiB: r2(r.registryRssMiB),
          benchCpuS: r2(r.benchCpuS),
          benchRssMiB: r2(r.benchRssMiB),
        })),
        checks: {
          manifestDigest: {w1: w1.manifestDigest, w4: w4.manifestDigest, equal: manifestsEqual},
          layers: comparison,
          hashWasmState: wasmState,
        },
        big,
        profile,
        failures,
      },
      null,
      2,
    ) + '\n',
  )
  log(`wrote ${RESULTS}`)
  if (failures.length > 0) throw new Error(`${failures.length} check(s) failed (see above)`)
}

// ---------------------------------------------------------------------------------------------------------
// Run, bounded in time, and clean up whatever happens
// ---------------------------------------------------------------------------------------------------------

let cleaning: Promise<void> | undefined
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killAllChildren()
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
  })()
  return cleaning
}
process.once('exit', () => {
  killAllChildren()
  if (scratchRoot) rmSync(scratchRoot, {recursive: true, force: true})
})
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`)
    void cleanup().finally(() => process.exit(code))
  })
}
const deadline = setTimeout(() => {
  log(`BENCH_TIMEOUT_MIN exceeded (${TIMEOUT_MS / 60_000} min): stopping`)
  void cleanup().finally(() => process.exit(1))
}, TIMEOUT_MS)

main()
  .catch((error: unknown) => {
    log(`FAILED: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  })
  .finally(async () => {
    clearTimeout(deadline)
    await cleanup()
    log('cleaned up')
  })
