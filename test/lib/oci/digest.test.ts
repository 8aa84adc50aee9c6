import {expect} from 'chai'
import {DIGEST_RE, digestOf, shortDigest} from '../../../src/lib/oci/digest.js'

describe('oci/digest', () => {
  it('hashes bytes and strings with sha256 by default, sha512 when asked', () => {
    expect(digestOf(Buffer.from('abc'))).to.equal('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(digestOf('abc')).to.equal(digestOf(Buffer.from('abc')))
    expect(digestOf('abc', 'sha512')).to.match(/^sha512:ddaf35a193617aba[0-9a-f]{112}$/)
    expect(digestOf('abc', 'md5')).to.equal(digestOf('abc'))
  })

  it('accepts only lowercase sha256 and sha512 digests of the right length', () => {
    expect(DIGEST_RE.test(`sha256:${'a'.repeat(64)}`)).to.equal(true)
    expect(DIGEST_RE.test(`sha512:${'b'.repeat(128)}`)).to.equal(true)
    const bad = [`sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'b'.repeat(64)}`, 'a'.repeat(64), 'md5:abc']
    for (const digest of bad) {
      expect(DIGEST_RE.test(digest), digest).to.equal(false)
    }
  })

  it('shortens to the first 12 hex digits without the algorithm', () => {
    expect(shortDigest(`sha256:0123456789ab${'c'.repeat(52)}`)).to.equal('0123456789ab')
    expect(shortDigest(`sha512:fedcba987654${'0'.repeat(116)}`)).to.equal('fedcba987654')
    expect(shortDigest('0123456789abcdef')).to.equal('0123456789ab')
  })
})
