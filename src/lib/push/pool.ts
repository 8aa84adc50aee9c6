// The push's workers: run work over items with bounded concurrency, each
// worker taking the next item from one queue. With failFast the first error
// aborts the others (through the signal) and is rethrown; otherwise every
// item runs and the failures are returned. The caller's abort stops the pool
// and is rethrown.

export interface PoolFailure<T> {
  item: T
  error: unknown
}

export interface PoolOptions {
  failFast: boolean
  signal?: AbortSignal
}

export async function runPool<T>(
  items: T[],
  concurrency: number,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  opts: PoolOptions,
): Promise<PoolFailure<T>[]> {
  const controller = new AbortController()
  const abort = () => controller.abort(opts.signal?.reason)
  if (opts.signal?.aborted) abort()
  else opts.signal?.addEventListener('abort', abort, {once: true})
  const failures: PoolFailure<T>[] = []
  let failed = false
  let firstError: unknown
  let next = 0
  const worker = async () => {
    while (next < items.length && !controller.signal.aborted) {
      const item = items[next++]
      try {
        await work(item, controller.signal)
      } catch (error) {
        failures.push({item, error})
        if (opts.failFast && !failed) {
          failed = true
          firstError = error
          controller.abort(error)
        }
      }
    }
  }
  try {
    await Promise.all(Array.from({length: Math.max(1, Math.min(concurrency, items.length))}, worker))
  } finally {
    opts.signal?.removeEventListener('abort', abort)
  }
  if (failed) throw firstError
  if (opts.signal?.aborted) throw opts.signal.reason
  return failures
}
