import {expect} from 'chai'
import {setTimeout as sleep} from 'node:timers/promises'
import {runPool} from '../../../src/lib/push/pool.js'

describe('push/pool', () => {
  it('never runs more than `concurrency` items at once, and runs them all', async () => {
    let active = 0
    let peak = 0
    const seen: number[] = []
    const failures = await runPool(
      [1, 2, 3, 4, 5, 6, 7],
      3,
      async (n) => {
        peak = Math.max(peak, ++active)
        await sleep(5)
        seen.push(n)
        active--
      },
      {failFast: true},
    )
    expect(peak).to.equal(3)
    expect(seen.sort()).to.deep.equal([1, 2, 3, 4, 5, 6, 7])
    expect(failures).to.deep.equal([])
  })

  it('fail-fast: the first error aborts the others and is rethrown; no new item starts', async () => {
    const started: number[] = []
    let abortedSeen = 0
    const error = await runPool(
      [1, 2, 3, 4, 5],
      2,
      async (n, signal) => {
        started.push(n)
        if (n === 1) throw new Error('boom')
        await sleep(20)
        if (signal.aborted) abortedSeen++
      },
      {failFast: true},
    ).catch((e) => e)
    expect((error as Error).message).to.equal('boom')
    expect(started).to.deep.equal([1, 2])
    expect(abortedSeen).to.equal(1)
  })

  it('continue-on-error: every item runs and the failures come back', async () => {
    const failures = await runPool(
      [1, 2, 3],
      2,
      async (n) => {
        if (n !== 2) throw new Error(`bad ${n}`)
      },
      {failFast: false},
    )
    expect(failures.map((f) => [f.item, (f.error as Error).message])).to.deep.equal([
      [1, 'bad 1'],
      [3, 'bad 3'],
    ])
  })

  it("the caller's abort stops the pool and is rethrown", async () => {
    const controller = new AbortController()
    const reason = new Error('interrupted')
    const run = runPool(
      [1, 2, 3],
      1,
      async (_n, signal) => {
        controller.abort(reason)
        await sleep(5)
        expect(signal.aborted).to.equal(true)
      },
      {failFast: true, signal: controller.signal},
    )
    expect(await run.catch((e) => e)).to.equal(reason)
  })
})
