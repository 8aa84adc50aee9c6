import {expect} from 'chai'
import {inFileWords} from '../../../src/lib/mirror/service.js'

describe('mirror/service: an entry error names the file key to fix', () => {
  it("turns push's flags into the mirror file's words, and leaves the rest as it is", () => {
    expect(inFileWords('Hugging Face repo "a/b" was not found: check --hf-repo.')).to.equal(
      'Hugging Face repo "a/b" was not found: check the entry\'s repo.',
    )
    expect(inFileWords('--target-tag must be a valid tag; --hf-revision x; --target-repo y; --registry z')).to.equal(
      "the entry's tags must be a valid tag; the entry's revision x; the entry's target y; registry z",
    )
    expect(inFileWords('the registry refused the upload (413)')).to.equal('the registry refused the upload (413)')
  })
})
