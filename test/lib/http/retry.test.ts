import {expect} from 'chai'
import {backoffDelay, parseRetryAfter, RetryableError, withRetries} from '../../../src/lib/http/retry.js'

describe('http/retry', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('7')).to.equal(7000)
    expect(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000)).to.be.within(4000, 5000)
    expect(parseRetryAfter('soon')).to.equal(undefined)
    expect(parseRetryAfter(undefined)).to.equal(undefined)
  })

  it('keeps full-jitter delays under the exponential ceiling and honours Retry-After', () => {
    const policy = {maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000}
    for (let i = 0; i < 200; i++) {
      expect(backoffDelay(2, policy)).to.be.within(0, 400)
      expect(backoffDelay(10, policy)).to.be.within(0, 1000)
      expect(backoffDelay(0, policy, 700)).to.be.within(700, 1000)
    }
  })

  it('retries retryable errors up to the limit, then throws the last one', async () => {
    let calls = 0
    const policy = {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2}
    const error = await withRetries(
      async () => {
        calls++
        throw new RetryableError(`try ${calls}`)
      },
      {policy, isRetryable: (e) => e instanceof RetryableError},
    ).catch((e) => e)
    expect(calls).to.equal(4)
    expect((error as Error).message).to.equal('try 4')
  })

  it('does not retry other errors', async () => {
    let calls = 0
    const fatal = new Error('fatal')
    const outcome = await withRetries(
      async () => {
        calls++
        throw fatal
      },
      {policy: {maxRetries: 3, baseDelayMs: 1, maxDelayMs: 1}, isRetryable: () => false},
    ).then(
      (value) => ({value}),
      (error: unknown) => ({error}),
    )
    // The very error the attempt threw comes out, after one call.
    expect(outcome).to.deep.equal({error: fatal})
    expect(calls).to.equal(1)
  })
})
