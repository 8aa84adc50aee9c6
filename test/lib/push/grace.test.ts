// The grace after an interrupt: the work in flight may go on while its bytes
// move, is cut once they stop for stallMs, and never outlives maxMs.
import {expect} from 'chai'
import {graceSignal} from '../../../src/lib/push/grace.js'

const limits = {stallMs: 300, maxMs: 1500, checkMs: 20}

/** When the grace signal fired, in ms after the interrupt, while `moving(ms)` says whether bytes still move. */
async function firesAfter(moving: (ms: number) => boolean, interruptFirst = false): Promise<number> {
  const interrupt = new AbortController()
  if (interruptFirst) interrupt.abort(new Error('interrupted'))
  let bytes = 0
  const start = Date.now()
  const mover = setInterval(() => {
    if (moving(Date.now() - start)) bytes += 1024
  }, 10)
  const grace = graceSignal(interrupt.signal, () => bytes, limits)
  try {
    expect(grace.signal.aborted).to.equal(false)
    interrupt.abort(new Error('interrupted'))
    await new Promise((resolve) => grace.signal.addEventListener('abort', resolve, {once: true}))
    expect((grace.signal.reason as Error).message).to.equal('interrupted')
    return Date.now() - start
  } finally {
    clearInterval(mover)
    grace.dispose()
  }
}

describe('push/grace: the time the work in flight gets after an interrupt', () => {
  it('cuts work whose bytes do not move after stallMs', async () => {
    const ms = await firesAfter(() => false)
    expect(ms).to.be.at.least(limits.stallMs).and.below(limits.maxMs)
  })

  it('lets work go on while its bytes move, and cuts it once they stop', async () => {
    const ms = await firesAfter((t) => t < 700)
    expect(ms)
      .to.be.at.least(700 + limits.stallMs)
      .and.below(limits.maxMs)
  })

  it('never outlives maxMs, even while bytes move', async () => {
    const ms = await firesAfter(() => true)
    expect(ms).to.be.at.least(limits.maxMs)
  })

  it('an interrupt before the work began starts the grace at once', async () => {
    const ms = await firesAfter(() => false, true)
    expect(ms).to.be.at.least(limits.stallMs).and.below(limits.maxMs)
  })

  it('never fires without an interrupt', async () => {
    const grace = graceSignal(new AbortController().signal, () => 0, limits)
    await new Promise((r) => setTimeout(r, limits.stallMs * 2))
    expect(grace.signal.aborted).to.equal(false)
    grace.dispose()
  })
})
