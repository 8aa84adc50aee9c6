// Run work over items with bounded concurrency. With failFast the first error
// aborts the others (through the signal) and is rethrown; otherwise every item
// runs and the failures are returned.

export interface PoolFailure<T> {
  item: T
  error: unknown
}

export type Scheduler = <T>(
  items: T[],
  concurrency: number,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  opts: {failFast: boolean; signal?: AbortSignal; label: (item: T) => string},
) => Promise<PoolFailure<T>[]>

export const runPool: Scheduler = async (items, concurrency, work, opts) => {
  const controller = new AbortController()
  const abort = () => controller.abort(opts.signal?.reason)
  opts.signal?.addEventListener('abort', abort, {once: true})
  const failures: PoolFailure<(typeof items)[number]>[] = []
  let next = 0
  let firstError: unknown
  const worker = async () => {
    while (next < items.length && !controller.signal.aborted) {
      const item = items[next++]
      try {
        await work(item, controller.signal)
      } catch (error) {
        failures.push({item, error})
        if (opts.failFast && firstError === undefined) {
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
  if (firstError !== undefined) throw firstError
  if (opts.signal?.aborted) throw opts.signal.reason
  return failures
}
