// Ceiling probes, run by bench.ts as child processes (`node --import tsx bench/lib/probe.ts <probe> <json>`).
// Each prints one JSON line on stdout with the wall and CPU time of the measured section only (process start-up,
// content generation and digest pre-computation are excluded), so bench.ts can set them beside /usr/bin/time's
// peak RSS for the whole child.
//
//   hash     {algo: 'node'|'wasm', updateBytes, files: [{path, size}]}   SHA-256 over the simulator's bytes
//   download {url}                                                       GET (following redirects) to nowhere
//   upload   {registry, repo, size, mode: 'put'|'patch', chunkBytes}     one blob: POST, then one streamed PUT
//                                                                        (or PATCHes of chunkBytes, then PUT)
import {createHash} from 'node:crypto'
import http from 'node:http'
import {createSHA256} from 'hash-wasm'
import {generateBytes} from '../../test/fixtures/hub/content.js'

interface Section {
  wallS: number
  userS: number
  sysS: number
}

/** Accumulates wall and CPU time over the measured parts only. */
class Stopwatch {
  private wall = 0n
  private user = 0
  private sys = 0
  private t0 = 0n
  private c0: NodeJS.CpuUsage = {user: 0, system: 0}
  start(): void {
    this.t0 = process.hrtime.bigint()
    this.c0 = process.cpuUsage()
  }
  stop(): void {
    this.wall += process.hrtime.bigint() - this.t0
    const c = process.cpuUsage(this.c0)
    this.user += c.user
    this.sys += c.system
  }
  get result(): Section {
    return {wallS: Number(this.wall) / 1e9, userS: this.user / 1e6, sysS: this.sys / 1e6}
  }
}

const GEN_CHUNK = 8 * 1024 * 1024

async function hash(o: {algo: 'node' | 'wasm'; updateBytes: number; files: Array<{path: string; size: number}>}) {
  const sw = new Stopwatch()
  const digests: Record<string, string> = {}
  let bytes = 0
  const wasm = o.algo === 'wasm' ? await createSHA256() : undefined
  for (const f of o.files) {
    let update: (b: Buffer) => void
    let digest: () => string
    if (wasm) {
      wasm.init()
      update = (b) => void wasm.update(b)
      digest = () => wasm.digest('hex')
    } else {
      const h = createHash('sha256')
      update = (b) => void h.update(b)
      digest = () => h.digest('hex')
    }
    for (let pos = 0; pos < f.size; pos += GEN_CHUNK) {
      const buf = generateBytes(f.path, pos, Math.min(f.size, pos + GEN_CHUNK)) // not timed
      sw.start()
      for (let off = 0; off < buf.length; off += o.updateBytes) update(buf.subarray(off, off + o.updateBytes))
      sw.stop()
      bytes += buf.length
    }
    sw.start()
    digests[f.path] = digest()
    sw.stop()
  }
  let state: Record<string, unknown> | undefined
  if (wasm) {
    // save()/load() cost and round trip: hash half a block, save, restore into a fresh hasher, finish.
    const block = generateBytes('bench-state', 0, 1 << 20)
    wasm.init()
    wasm.update(block.subarray(0, 300_001))
    const n = 2000
    let saved = wasm.save()
    let t = process.hrtime.bigint()
    for (let i = 0; i < n; i++) saved = wasm.save()
    const saveUs = Number(process.hrtime.bigint() - t) / 1e3 / n
    const other = await createSHA256()
    t = process.hrtime.bigint()
    for (let i = 0; i < n; i++) other.load(saved)
    const loadUs = Number(process.hrtime.bigint() - t) / 1e3 / n
    other.update(block.subarray(300_001))
    const roundTrip = other.digest('hex') === createHash('sha256').update(block).digest('hex')
    state = {stateBytes: saved.length, saveUs, loadUs, roundTrip}
  }
  return {...sw.result, bytes, digests, state}
}

function get(url: URL, hops = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {agent: false}, (res) => {
      const status = res.statusCode ?? 0
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && hops < 5) {
        res.resume()
        resolve(get(new URL(res.headers.location, url), hops + 1))
        return
      }
      if (status !== 200) {
        res.resume()
        reject(new Error(`GET ${url.pathname}: HTTP ${status}`))
        return
      }
      resolve(res)
    })
    req.on('error', reject)
  })
}

async function download(o: {url: string}) {
  const sw = new Stopwatch()
  sw.start()
  const res = await get(new URL(o.url))
  let bytes = 0
  for await (const chunk of res as AsyncIterable<Buffer>) bytes += chunk.length
  sw.stop()
  return {...sw.result, bytes}
}

const agent = new http.Agent({keepAlive: true, maxSockets: 1})

function request(method: string, url: URL, headers: Record<string, string | number>, body?: (req: http.ClientRequest) => Promise<void>) {
  return new Promise<{status: number; headers: http.IncomingHttpHeaders; text: string}>((resolve, reject) => {
    const req = http.request(url, {method, headers, agent}, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, text}))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body) body(req).then(() => req.end(), reject)
    else req.end()
  })
}

/** Write `size` bytes of `block` repeated, with backpressure. */
async function writeRepeated(req: http.ClientRequest, block: Buffer, size: number): Promise<void> {
  for (let sent = 0; sent < size;) {
    const piece = block.subarray(0, Math.min(block.length, size - sent))
    sent += piece.length
    if (!req.write(piece)) await new Promise<void>((r) => req.once('drain', () => r()))
  }
}

async function upload(o: {registry: string; repo: string; size: number; mode: 'put' | 'patch'; chunkBytes: number}) {
  const block = generateBytes('bench-upload', 0, Math.min(o.size, GEN_CHUNK))
  const h = createHash('sha256')
  for (let done = 0; done < o.size; done += block.length) h.update(block.subarray(0, Math.min(block.length, o.size - done)))
  const digest = `sha256:${h.digest('hex')}`
  const base = new URL(o.registry)
  const sw = new Stopwatch()
  sw.start()
  const start = await request('POST', new URL(`/v2/${o.repo}/blobs/uploads/`, base), {'content-length': 0})
  if (start.status !== 202) throw new Error(`POST upload: HTTP ${start.status} ${start.text}`)
  let location = new URL(start.headers.location!, base)
  let requests = 1
  if (o.mode === 'patch') {
    for (let off = 0; off < o.size; off += o.chunkBytes) {
      const n = Math.min(o.chunkBytes, o.size - off)
      const res = await request(
        'PATCH',
        location,
        {'content-type': 'application/octet-stream', 'content-length': n, 'content-range': `${off}-${off + n - 1}`},
        (req) => writeRepeated(req, block, n),
      )
      requests++
      if (res.status !== 202) throw new Error(`PATCH: HTTP ${res.status} ${res.text}`)
      location = new URL(res.headers.location!, base)
    }
  }
  location.searchParams.set('digest', digest)
  const putSize = o.mode === 'put' ? o.size : 0
  const put = await request('PUT', location, {'content-type': 'application/octet-stream', 'content-length': putSize}, (req) =>
    writeRepeated(req, block, putSize),
  )
  requests++
  sw.stop()
  if (put.status !== 201) throw new Error(`PUT ?digest: HTTP ${put.status} ${put.text}`)
  const head = await request('HEAD', new URL(`/v2/${o.repo}/blobs/${digest}`, base), {})
  if (head.status !== 200 || Number(head.headers['content-length']) !== o.size)
    throw new Error(`HEAD blob after upload: HTTP ${head.status}, ${head.headers['content-length']} bytes`)
  return {...sw.result, bytes: o.size, digest, requests}
}

const [probe, json] = process.argv.slice(2)
const arg = JSON.parse(json ?? '{}')
const run = {hash, download, upload}[probe as 'hash' | 'download' | 'upload']
if (!run) {
  console.error(`usage: probe.ts hash|download|upload '<json>'`)
  process.exit(2)
}
run(arg).then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n')
    agent.destroy()
  },
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e)
    process.exit(1)
  },
)
