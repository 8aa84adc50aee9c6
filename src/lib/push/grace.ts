// After an interrupt the work in flight gets time to land. A PATCH cut
// halfway makes distribution-family registries cancel the whole session (the
// file starts over on resume), and a PATCH carries ~2 s of data at the link's
// rate, more on a slow link (8 MiB at least). So the PATCH may go on while its
// bytes keep moving, up to a ceiling below Kubernetes' 30 s termination
// grace; one whose source stopped moving is cut after `stallMs`.

export interface GraceLimits {
  /** Cut once no byte moved for this long. */
  stallMs: number
  /** Cut this long after the interrupt, moving or not. */
  maxMs: number
  /** How often progress is looked at. */
  checkMs: number
}

export const INTERRUPT_GRACE: GraceLimits = {stallMs: 2000, maxMs: 20_000, checkMs: 100}

export interface Grace {
  /** Aborts (with the interrupt's reason) when the grace is over. */
  signal: AbortSignal
  dispose(): void
}

/** A signal that fires after `signal` does, once `progress()` (bytes moved so far) stops growing or `maxMs` passed. */
export function graceSignal(signal: AbortSignal | undefined, progress: () => number, limits: GraceLimits = INTERRUPT_GRACE): Grace {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const onAbort = () => {
    const start = Date.now()
    // Read first at the first check: an interrupt that came before the work began (its progress not yet set up).
    let seen: number | undefined
    let movedAt = start
    timer = setInterval(() => {
      const now = Date.now()
      const at = progress()
      if (at !== seen) [seen, movedAt] = [at, now]
      if (now - movedAt < limits.stallMs && now - start < limits.maxMs) return
      clearInterval(timer)
      controller.abort(signal?.reason)
    }, limits.checkMs)
    // The work in flight keeps the process alive, not the grace.
    timer.unref()
  }
  if (signal?.aborted) onAbort()
  else signal?.addEventListener('abort', onAbort, {once: true})
  return {
    signal: controller.signal,
    dispose: () => {
      signal?.removeEventListener('abort', onAbort)
      clearInterval(timer)
    },
  }
}
