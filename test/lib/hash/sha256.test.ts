import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import {createSha256, saveableHashes, savedStateSize} from '../../../src/lib/hash/sha256.js'

describe('hash/sha256 (native, saveable)', () => {
  it('is built and loaded: npm ci compiles native/sha256_state.c (resume depends on it)', () => {
    expect(saveableHashes).to.equal(true)
    expect(savedStateSize).to.be.greaterThan(64)
  })

  it("gives node:crypto's digest for any split of the input, empty updates included", () => {
    let seed = 42
    const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n
    for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 100_003, 3 * 1024 * 1024 + 7]) {
      const data = randomBytes(size)
      const hash = createSha256()
      for (let at = 0; at < size;) {
        const n = Math.min(size - at, next(200_000))
        hash.update(data.subarray(at, at + n))
        at += n
      }
      expect(hash.hex(), `size ${size}`).to.equal(createHash('sha256').update(data).digest('hex'))
    }
  })

  it('continues from a saved state at any offset; hex() leaves the state as it was', () => {
    const data = randomBytes(2 * 1024 * 1024 + 333)
    const whole = createHash('sha256').update(data).digest('hex')
    for (const cut of [0, 1, 64, 4095, 1_000_003, data.length]) {
      const first = createSha256()
      first.update(data.subarray(0, cut))
      const saved = first.save()!
      expect(saved.length).to.equal(savedStateSize)
      expect(first.hex()).to.equal(createHash('sha256').update(data.subarray(0, cut)).digest('hex'))
      first.update(data.subarray(cut))
      expect(first.hex(), 'after hex()').to.equal(whole)
      const second = createSha256(saved)
      second.update(data.subarray(cut))
      expect(second.hex(), `resumed at ${cut}`).to.equal(whole)
    }
  })

  it('refuses a state of the wrong size', () => {
    expect(() => createSha256(Buffer.alloc(savedStateSize - 1))).to.throw(/saved SHA-256 state has/)
  })
})
