// Child processes for the benchmark: always asynchronous (the Hub simulator
// answers from this process, so a blocking spawn would stall it), measured with
// /usr/bin/time when present, each in its own process group so a timeout or a
// failure can kill it together with whatever it started.
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {readdir, readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'

export const TIME_BIN = '/usr/bin/time'
export const HAVE_TIME = existsSync(TIME_BIN) && process.env.BENCH_NO_TIME !== '1'
const PRELOAD = new URL('./rusage-preload.mjs', import.meta.url).pathname

export interface Measured {
  /** Wall seconds from spawn to exit, as seen here. */
  wallS: number
  /** user and sys CPU seconds of the child and everything it waited for; undefined when unknown. */
  userS?: number
  sysS?: number
  /** Peak RSS in KiB (the largest single process among the child and its waited-for descendants). */
  maxRssKiB?: number
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs: number
  /** Feed stderr lines here as they arrive (progress). */
  onStderrLine?: (line: string) => void
  /** Keep at most this many bytes of stdout (default 16 MiB). */
  maxStdout?: number
  /** Scratch dir for the rusage file. */
  scratch: string
  /** Called with the stdout stream instead of buffering it. */
  stdoutSink?: (chunk: Buffer) => void
}

const liveGroups = new Set<number>()
let seq = 0

/** SIGKILL every process group still running (used by cleanup and the exit hook). */
export function killAllChildren(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear()
}
process.once('exit', killAllChildren)

/**
 * Run `cmd args` under /usr/bin/time (or, without it, with a resourceUsage() preload for node children).
 * Never throws for a non-zero exit: callers look at `code`.
 */
export async function runTimed(cmd: string, args: string[], opts: RunOptions): Promise<Measured> {
  const rusageFile = join(opts.scratch, `rusage-${process.pid}-${++seq}.txt`)
  let argv: string[]
  let env = {...(opts.env ?? process.env)}
  let file: string
  if (HAVE_TIME) {
    file = TIME_BIN
    argv = ['-o', rusageFile, '-f', '%e %U %S %M', cmd, ...args]
  } else if (cmd === process.execPath) {
    file = cmd
    argv = ['--import', PRELOAD, ...args]
    env = {...env, BENCH_RUSAGE_OUT: rusageFile}
  } else {
    file = cmd
    argv = args
  }
  const started = process.hrtime.bigint()
  const result = await new Promise<Omit<Measured, 'wallS'>>((resolve, reject) => {
    const child = spawn(file, argv, {env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    if (child.pid) liveGroups.add(child.pid)
    const max = opts.maxStdout ?? 16 << 20
    const out: Buffer[] = []
    let outLen = 0
    let err = ''
    let partial = ''
    child.stdout.on('data', (d: Buffer) => {
      if (opts.stdoutSink) return opts.stdoutSink(d)
      if (outLen < max) {
        out.push(d)
        outLen += d.length
      }
    })
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString('utf8')
      err += s
      if (err.length > 1 << 20) err = err.slice(-(1 << 19))
      if (opts.onStderrLine) {
        partial += s
        const lines = partial.split('\n')
        partial = lines.pop() ?? ''
        for (const l of lines) if (l.trim()) opts.onStderrLine(l)
      }
    })
    const timer = setTimeout(() => {
      err += `\n[bench] timed out after ${Math.round(opts.timeoutMs / 1000)} s: killed\n`
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        /* gone */
      }
    }, opts.timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      if (child.pid) liveGroups.delete(child.pid)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (child.pid) {
        // the group may still hold stragglers (a daemonised grandchild): kill them too
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          /* gone */
        }
        liveGroups.delete(child.pid)
      }
      if (opts.onStderrLine && partial.trim()) opts.onStderrLine(partial)
      resolve({code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err})
    })
  })
  const wallS = Number(process.hrtime.bigint() - started) / 1e9
  const usage = await readRusage(rusageFile)
  await rm(rusageFile, {force: true})
  // /usr/bin/time exits with the child's status; its own message ("Command exited with non-zero status")
  // goes to the -o file, not to stderr.
  return {wallS, ...usage, ...result}
}

async function readRusage(path: string): Promise<{userS?: number; sysS?: number; maxRssKiB?: number}> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return {}
  }
  if (HAVE_TIME) {
    const line = text.trim().split('\n').pop() ?? ''
    const [, u, s, m] = line.trim().split(/\s+/).map(Number)
    if ([u, s, m].some((x) => !Number.isFinite(x))) return {}
    return {userS: u, sysS: s, maxRssKiB: m}
  }
  const r = JSON.parse(text) as NodeJS.ResourceUsage
  return {userS: r.userCPUTime / 1e6, sysS: r.systemCPUTime / 1e6, maxRssKiB: r.maxRSS}
}

/** Run and throw with the stderr tail when the exit status is not 0. */
export async function runChecked(what: string, cmd: string, args: string[], opts: RunOptions): Promise<Measured> {
  const m = await runTimed(cmd, args, opts)
  if (m.code !== 0) {
    throw new Error(`${what} failed (exit ${m.code ?? m.signal}):\n${m.stderr.trim().split('\n').slice(-25).join('\n')}`)
  }
  return m
}

// ---------------------------------------------------------------------------------------------------------
// /proc: CPU and peak RSS of processes we did not start through runTimed (the registry) and of ourselves
// ---------------------------------------------------------------------------------------------------------

let clkTck = 100
/** The kernel's clock ticks per second (for /proc/<pid>/stat); ask getconf once, asynchronously. */
export async function initClockTicks(): Promise<void> {
  const out = await new Promise<string>((resolve) => {
    const c = spawn('getconf', ['CLK_TCK'], {stdio: ['ignore', 'pipe', 'ignore']})
    let s = ''
    c.stdout.on('data', (d) => (s += d))
    c.on('error', () => resolve(''))
    c.on('close', () => resolve(s))
  })
  const n = Number(out.trim())
  if (Number.isInteger(n) && n > 0) clkTck = n
}

interface ProcStat {
  pid: number
  comm: string
  ppid: number
  cpuS: number
  startTicks: number
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const comm = text.slice(open + 1, close)
  const f = text.slice(close + 2).split(' ') // f[0] = field 3 (state)
  return {
    pid: Number(text.slice(0, open).trim()),
    comm,
    ppid: Number(f[1]),
    cpuS: (Number(f[11]) + Number(f[12])) / clkTck,
    startTicks: Number(f[19]),
  }
}

/** utime + stime of a live process in seconds, or undefined when it is gone. */
export function procCpuS(pid: number): number | undefined {
  return readStat(pid)?.cpuS
}

/** Peak RSS (VmHWM) in KiB. */
export function procPeakRssKiB(pid: number | 'self'): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Reset VmHWM to the current RSS (Linux clear_refs 5); false when not permitted. */
export function resetPeakRss(pid: number | 'self'): boolean {
  try {
    // small write to a proc file: synchronous on purpose (microseconds, no I/O)
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** The newest child of this process whose command name is `comm` (e.g. the registry the fixture spawned). */
export async function findChildPid(comm: string): Promise<number | undefined> {
  let best: ProcStat | undefined
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const st = readStat(Number(name))
    if (st && st.ppid === process.pid && st.comm === comm && (!best || st.startTicks > best.startTicks)) best = st
  }
  return best?.pid
}

// ---------------------------------------------------------------------------------------------------------
// Other people's load: the machine may be shared (tests running beside the benchmark)
// ---------------------------------------------------------------------------------------------------------

/** CPU seconds the whole machine spent busy (all cores: user nice system irq softirq steal) since boot. */
export function systemBusyS(): number {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, , , irq, softirq, steal] = first
  return (user + nice + system + irq + softirq + (steal || 0)) / clkTck
}

/**
 * Wait until the machine is idle (busy below `threshold` of all cores for `needS` consecutive seconds), at most
 * `maxS` seconds. Returns the seconds waited and whether it got quiet.
 */
export async function waitQuiet(
  maxS: number,
  cores: number,
  onWait: (busyPct: number) => void,
  threshold = 0.15,
  needS = 3,
): Promise<{waitedS: number; quiet: boolean}> {
  const start = Date.now()
  let calm = 0
  let prev = systemBusyS()
  let told = false
  while ((Date.now() - start) / 1000 < maxS) {
    await new Promise((r) => setTimeout(r, 1000))
    const now = systemBusyS()
    const frac = (now - prev) / cores
    prev = now
    calm = frac < threshold ? calm + 1 : 0
    if (calm >= needS) return {waitedS: (Date.now() - start) / 1000, quiet: true}
    if (!told && frac >= threshold) {
      told = true
      onWait(Math.round(frac * 100))
    }
  }
  return {waitedS: (Date.now() - start) / 1000, quiet: false}
}
