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

/**
 * The bookkeeping every scheduler shares: an abort signal for the work that
 * follows the caller's, the failures, and with failFast the first error
 * aborting the rest. finish() rethrows that error (or the caller's abort).
 */
export function failureGroup<T>(opts: {failFast: boolean; signal?: AbortSignal}) {
  const controller = new AbortController()
  const abort = () => controller.abort(opts.signal?.reason)
  opts.signal?.addEventListener('abort', abort, {once: true})
  const failures: PoolFailure<T>[] = []
  let firstError: unknown
  return {
    signal: controller.signal,
    async run(item: T, work: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
      try {
        await work(item, controller.signal)
      } catch (error) {
        failures.push({item, error})
        if (opts.failFast && firstError === undefined) {
          firstError = error
          controller.abort(error)
        }
        throw error
      }
    },
    finish(): PoolFailure<T>[] {
      opts.signal?.removeEventListener('abort', abort)
      if (firstError !== undefined) throw firstError
      if (opts.signal?.aborted) throw opts.signal.reason
      return failures
    },
  }
}

export const runPool: Scheduler = async (items, concurrency, work, opts) => {
  const group = failureGroup<(typeof items)[number]>(opts)
  let next = 0
  const worker = async () => {
    while (next < items.length && !group.signal.aborted) await group.run(items[next++], work).catch(() => undefined)
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(concurrency, items.length))}, worker))
  return group.finish()
}
