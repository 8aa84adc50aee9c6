// At most n tasks at a time; the others wait their turn in order.

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
