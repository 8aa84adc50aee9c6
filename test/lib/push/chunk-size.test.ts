import {expect} from 'chai'
import {AUTO_CHUNK, fixedChunks, measuredChunks} from '../../../src/lib/push/chunk-size.js'

const MiB = 1024 * 1024

describe('push/chunk-size: PATCH sizes that fit the link', () => {
  const middle = () => 0.5 // no jitter

  it('starts at 8 MiB and grows to about 2 s of data at the measured rate, within 8-64 MiB', () => {
    const chunks = measuredChunks(AUTO_CHUNK, middle)
    expect(chunks.size()).to.equal(8 * MiB)
    // 8 MiB answered after 0.8 s (round trip included): ~10.5 MB/s, so ~20 MiB
    chunks.measured(8 * MiB, 800)
    expect(chunks.size()).to.equal(20 * MiB)
    // a fast link: capped at 64 MiB, so a failure re-sends and a kill loses at most that
    for (let i = 0; i < 4; i++) chunks.measured(20 * MiB, 100)
    expect(chunks.size()).to.equal(AUTO_CHUNK.max)
    // a slow one: never below 8 MiB
    for (let i = 0; i < 8; i++) chunks.measured(8 * MiB, 60_000)
    expect(chunks.size()).to.equal(AUTO_CHUNK.min)
  })

  it('ignores a short tail PATCH (it says little about the link)', () => {
    const chunks = measuredChunks(AUTO_CHUNK, middle)
    chunks.measured(1024, 1000)
    expect(chunks.size()).to.equal(8 * MiB)
  })

  it('draws each size within ±25 % of the target, so files started together do not end their PATCHes together', () => {
    const sized = (r: number) => {
      const chunks = measuredChunks(AUTO_CHUNK, () => r)
      chunks.measured(16 * MiB, 1000) // ~16.8 MB/s: a 2 s target of 32 MiB
      return chunks.size() / MiB
    }
    expect([sized(0), sized(0.5), sized(0.999)]).to.deep.equal([24, 32, 40])
    // Never outside the bounds: the initial 8 MiB is the floor too.
    expect(measuredChunks(AUTO_CHUNK, () => 0).size()).to.equal(AUTO_CHUNK.min)
    expect(measuredChunks(AUTO_CHUNK, () => 0.999).size()).to.equal(10 * MiB)
    // With Math.random, sizers on the same link soon differ.
    const [a, b] = [measuredChunks(), measuredChunks()]
    const sizes = Array.from({length: 8}, () => {
      a.measured(16 * MiB, 1000)
      b.measured(16 * MiB, 1000)
      return a.size() - b.size()
    })
    expect(sizes.some((d) => d !== 0)).to.equal(true)
  })

  it('--chunk-mib fixes the size whatever was measured', () => {
    const chunks = fixedChunks(3 * MiB)
    chunks.measured(8 * MiB, 10)
    expect(chunks.size()).to.equal(3 * MiB)
  })
})
