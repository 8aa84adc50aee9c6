// Bounds for verify: at most n tasks at a time (the others wait their turn in order), each
// piece of work once per key, at most so many bytes of a stream.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>

export function limiter(n: number): Limiter {
  let active = 0
  const waiting: Array<() => void> = []
  return async (task) => {
    // A finishing task hands its slot straight to the next in line.
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    else active++
    try {
      return await task()
    } finally {
      const next = waiting.shift()
      if (next) next()
      else active--
    }
  }
}

/** One promise per key: the work behind it runs once, however many ask. */
export function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key)
  if (!p) {
    p = make()
    cache.set(key, p)
  }
  return p
}

/** At most `max` bytes of a stream; the rest is never read (the stream is closed). */
export async function readUpTo(chunks: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of chunks) {
    const take = Math.min(chunk.length, max - size)
    parts.push(chunk.subarray(0, take))
    size += take
    if (size >= max) break
  }
  return Buffer.concat(parts, size)
}
