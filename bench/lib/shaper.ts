/**
 * A WAN in front of a loopback server: a TCP proxy on 127.0.0.1 that delays
 * every write by half the round trip each way and caps each connection's rate
 * and the link's as a whole (one budget per direction, shared by every
 * connection through any shaper on the same link). HTTP passes through
 * untouched, Host header included, so a registry's Location answers point back
 * at the shaper. Not a test fixture: the bench's model of a real link.
 *
 *   const link = new Link(100e6)
 *   const shaper = await startShaper('127.0.0.1:5000', {rttMs: 30, connBytesPerSec: 50e6, link})
 *   ... client talks to shaper.origin ...
 */
import net from 'node:net'
import {performance} from 'node:perf_hooks'

/** The link's capacity per direction, in bytes per second; shared by the shapers given it. */
export class Link {
  /** When each direction's budget is next free (performance.now() ms). */
  readonly free = {up: 0, down: 0}
  readonly bytes = {up: 0, down: 0}
  constructor(readonly bytesPerSec: number) {}
}

export interface ShapeOptions {
  rttMs: number
  /** Each TCP connection's rate cap, each direction. */
  connBytesPerSec: number
  link: Link
}

export interface Shaper {
  origin: string
  host: string
  /** TCP connections accepted so far. */
  connections: number
  close(): Promise<void>
}

export async function startShaper(target: string, opts: ShapeOptions): Promise<Shaper> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const sockets = new Set<net.Socket>()
  const shaper = {connections: 0} as Shaper
  const server = net.createServer({allowHalfOpen: true}, (client) => {
    shaper.connections++
    const upstream = net.connect({host, port, allowHalfOpen: true})
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.setNoDelay(true)
      s.on('error', () => undefined)
      s.on('close', (hadError) => {
        sockets.delete(s)
        // A reset on one side is a reset on the other; a clean close reaches it after the delay.
        if (hadError) {
          client.destroy()
          upstream.destroy()
        }
      })
    }
    delayLine(client, upstream, 'up', opts)
    delayLine(upstream, client, 'down', opts)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const listening = (server.address() as net.AddressInfo).port
  shaper.origin = `http://127.0.0.1:${listening}`
  shaper.host = `127.0.0.1:${listening}`
  shaper.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const s of sockets) s.destroy()
    })
  return shaper
}

/**
 * Bytes from `src` reach `dst` when both the connection's and the link's
 * budgets have let them go, plus the one-way delay; in order. The source is
 * paused while more than twice the bandwidth-delay product is in flight (the
 * window a TCP sender would have), so memory stays bounded.
 */
function delayLine(src: net.Socket, dst: net.Socket, direction: 'up' | 'down', opts: ShapeOptions): void {
  const oneWay = opts.rttMs / 2
  const window = Math.max(1 << 20, 2 * opts.connBytesPerSec * (opts.rttMs / 1000))
  const queue: Array<{at: number; chunk?: Buffer}> = []
  let connFree = 0
  let inFlight = 0
  let timer: NodeJS.Timeout | undefined
  const resume = (): void => {
    if (inFlight < window / 2 && src.isPaused() && dst.writableLength < window) src.resume()
  }
  dst.on('drain', resume)
  const pump = (): void => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0].at <= now + 0.5) {
      const {chunk} = queue.shift()!
      if (!chunk) {
        if (!dst.destroyed) dst.end()
        continue
      }
      inFlight -= chunk.length
      if (!dst.destroyed) dst.write(chunk)
    }
    resume()
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0].at - performance.now()))
  }
  const schedule = (entry: {at: number; chunk?: Buffer}): void => {
    queue.push(entry)
    if (!timer) timer = setTimeout(pump, Math.max(0, queue[0].at - performance.now()))
  }
  src.on('data', (chunk: Buffer) => {
    const now = performance.now()
    const link = opts.link
    const linkDone = Math.max(now, link.free[direction]) + (chunk.length / link.bytesPerSec) * 1000
    const connDone = Math.max(now, connFree) + (chunk.length / opts.connBytesPerSec) * 1000
    link.free[direction] = linkDone
    link.bytes[direction] += chunk.length
    connFree = Math.max(linkDone, connDone)
    inFlight += chunk.length
    if (inFlight > window) src.pause()
    schedule({at: connFree + oneWay, chunk})
  })
  let ended = false
  const end = (): void => {
    if (ended) return
    ended = true
    schedule({at: Math.max(performance.now(), connFree) + oneWay})
  }
  src.on('end', end)
  src.on('close', end)
}
