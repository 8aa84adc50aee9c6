import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {createSha256, saveableHashes, savedStateSize, updateBoth, type Sha256} from '../../../src/lib/hash/sha256.js'

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

  describe('updateBoth', () => {
    const MiB = 1024 * 1024
    const sizes = [0, 1, 63, 64, 65, 127, 128, 511, 512, 4096 + 7, 65_536, MiB + 3]
    // Bytes each hash holds before the shared ones: equal buffered bytes (`num`) take the interleaved path, the rest the plain one.
    const prefixes: Array<[number, number]> = [
      [0, 0],
      [512, 0],
      [3, 3],
      [3 + 64, 3],
      [3, 0],
      [0, 63],
      [512 + 100, 1],
    ]
    const sha256 = (...parts: Buffer[]) => {
      const hash = createHash('sha256')
      for (const part of parts) hash.update(part)
      return hash.digest('hex')
    }
    const primed = (prefix: Buffer) => {
      const hash = createSha256()
      hash.update(prefix)
      return hash
    }

    it("gives node:crypto's digests for both hashes, at equal and at different buffered lengths, for any split", () => {
      let seed = 7
      const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n
      for (const [aBefore, bBefore] of prefixes) {
        const prefixA = randomBytes(aBefore)
        const prefixB = randomBytes(bBefore)
        for (const size of sizes) {
          const data = randomBytes(size)
          const a = primed(prefixA)
          const b = primed(prefixB)
          // A split point from the list, then random pieces (some shorter than a block, some far longer).
          const first = Math.min(size, sizes[next(sizes.length)])
          updateBoth(a, b, data.subarray(0, first))
          for (let at = first; at < size;) {
            const n = Math.min(size - at, 1 + next(next(2) ? 200 : 300_000))
            updateBoth(a, b, data.subarray(at, at + n))
            at += n
          }
          const where = `size ${size} after ${aBefore}/${bBefore} bytes`
          expect(a.hex(), `A, ${where}`).to.equal(sha256(prefixA, data))
          expect(b.hex(), `B, ${where}`).to.equal(sha256(prefixB, data))
        }
      }
    })

    it('leaves states that save and restore: a resumed hash continues with plain update()', () => {
      const header = randomBytes(512)
      const data = randomBytes(2 * MiB + 333)
      for (const cut of [0, 1, 64, 65, 4095, MiB + 3, data.length]) {
        const layer = primed(header)
        const content = createSha256()
        updateBoth(layer, content, data.subarray(0, cut))
        const restoredLayer = createSha256(layer.save())
        const restoredContent = createSha256(content.save())
        restoredLayer.update(data.subarray(cut))
        updateBoth(layer, content, data.subarray(cut))
        restoredContent.update(data.subarray(cut))
        expect(restoredLayer.hex(), `layer resumed at ${cut}`).to.equal(sha256(header, data))
        expect(restoredContent.hex(), `content resumed at ${cut}`).to.equal(sha256(data))
        expect(layer.hex(), `layer, not saved, at ${cut}`).to.equal(sha256(header, data))
        expect(content.hex(), `content, not saved, at ${cut}`).to.equal(sha256(data))
      }
    })

    it('carries the bit count past 2^32 bits (600 MiB)', () => {
      const piece = randomBytes(MiB)
      // 517 and 5 bytes ahead: every call completes a partial block first, and the two counts differ.
      const prefixA = randomBytes(517)
      const prefixB = prefixA.subarray(512)
      const a = primed(prefixA)
      const b = primed(prefixB)
      const expectedA = createHash('sha256').update(prefixA)
      const expectedB = createHash('sha256').update(prefixB)
      for (let i = 0; i < 600; i++) {
        updateBoth(a, b, piece)
        expectedA.update(piece)
        expectedB.update(piece)
      }
      expect(a.hex()).to.equal(expectedA.digest('hex'))
      expect(b.hex()).to.equal(expectedB.digest('hex'))
    })

    it('without the native hash (MODELCAR_SHA256=node) is two node:crypto updates', () => {
      const module = fileURLToPath(new URL('../../../src/lib/hash/sha256.ts', import.meta.url))
      const script = `
        import {createHash} from 'node:crypto'
        const {createSha256, saveableHashes, updateBoth} = await import(${JSON.stringify(module)})
        const header = Buffer.alloc(512, 1), data = Buffer.alloc(100_003, 2)
        const a = createSha256(), b = createSha256()
        a.update(header)
        updateBoth(a, b, data.subarray(0, 70))
        updateBoth(a, b, data.subarray(70))
        const hex = (...parts) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex')
        console.log(JSON.stringify({saveableHashes, a: a.hex() === hex(header, data), b: b.hex() === hex(data)}))`
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: {...process.env, MODELCAR_SHA256: 'node'},
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(run.status, run.stderr).to.equal(0)
      expect(JSON.parse(run.stdout)).to.deep.equal({saveableHashes: false, a: true, b: true})
    })

    it('takes one hash twice when both are the same object', () => {
      const data = randomBytes(1000)
      const hash: Sha256 = createSha256()
      updateBoth(hash, hash, data)
      expect(hash.hex()).to.equal(sha256(data, data))
    })
  })
})
