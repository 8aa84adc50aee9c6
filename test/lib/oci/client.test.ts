import {expect} from 'chai'
import {parseRangeEnd} from '../../../src/lib/oci/client.js'

describe('oci/client upload Range parsing', () => {
  it('reads how many bytes the registry holds', () => {
    expect(parseRangeEnd('0-1023')).to.equal(1024)
    expect(parseRangeEnd('bytes=0-99')).to.equal(100)
    expect(parseRangeEnd('0-0')).to.equal(0) // distribution's empty session
    expect(parseRangeEnd(undefined)).to.equal(undefined)
    expect(parseRangeEnd('5-10')).to.equal(undefined)
    expect(parseRangeEnd('garbage')).to.equal(undefined)
  })
})
