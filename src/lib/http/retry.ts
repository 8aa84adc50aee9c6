// One retry policy for the Hub and the registry: exponential backoff with full
// jitter, honouring Retry-After, bounded by a retry count.
import {setTimeout as sleep} from 'node:timers/promises'
import {ModelcarError} from '../errors.js'
import {TransportError} from './raw.js'

export interface RetryPolicy {
  maxRetries: number
  baseDelayMs: number
  maxDelayMs: number
}

export const defaultRetryPolicy: RetryPolicy = {maxRetries: 5, baseDelayMs: 500, maxDelayMs: 30_000}

/** Statuses worth another try on any request. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** An error that says how long the server asked us to wait. */
export class RetryableError extends ModelcarError {
  /** The HTTP status that caused it, when there was one. */
  readonly status?: number

  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: {cause?: unknown; status?: number},
  ) {
    super(message, {code: 'E_TRANSIENT', cause: options?.cause})
    this.name = 'RetryableError'
    this.status = options?.status
  }
}

/** Failures another attempt may cure: the network, or a transient answer. */
export function isRetryable(error: unknown): boolean {
  return (error instanceof TransportError && !error.permanent) || error instanceof RetryableError
}

/** Retry-After: seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt)
  const jittered = Math.random() * ceiling
  return retryAfterMs === undefined ? jittered : Math.min(policy.maxDelayMs, Math.max(retryAfterMs, jittered))
}

/**
 * Run `attempt` until it succeeds, `isRetryable` says no, or the policy runs
 * out. `onRetry` hears about each retry (for logs and progress).
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  opts: {
    policy?: RetryPolicy
    isRetryable: (error: unknown) => boolean
    onRetry?: (error: unknown, n: number, delayMs: number) => void
    signal?: AbortSignal
  },
): Promise<T> {
  const policy = opts.policy ?? defaultRetryPolicy
  for (let n = 0; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      if (n >= policy.maxRetries || !opts.isRetryable(error) || opts.signal?.aborted) throw error
      const delay = backoffDelay(n, policy, error instanceof RetryableError ? error.retryAfterMs : undefined)
      opts.onRetry?.(error, n + 1, delay)
      await sleep(delay, undefined, {signal: opts.signal})
    }
  }
}
