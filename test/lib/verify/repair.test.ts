import {expect} from 'chai'
import {parseImageReference} from '../../../src/lib/oci/reference.js'
import type {Descriptor} from '../../../src/lib/oci/types.js'
import {escapeGlob, pushCommand, repairFor, shellQuote} from '../../../src/lib/verify/repair.js'
import type {BlobReport} from '../../../src/lib/verify/types.js'

const SHA = 'a'.repeat(40)
const layer = (title?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  digest: `sha256:${'1'.repeat(64)}`,
  size: 1,
  annotations: title === undefined ? {} : {'org.opencontainers.image.title': title},
})
const ann = {'dev.modelcar.hf.repo': 'org/m', 'org.opencontainers.image.revision': SHA}
const blob = (kind: BlobReport['kind'], result: BlobReport['result']): BlobReport => ({
  kind,
  digest: 'sha256:x',
  size: 1,
  mediaType: '',
  result,
  problems: [],
  notes: [],
})

describe('verify/repair', () => {
  it('rebuilds the push of exactly these files to this target, quoted for a shell', () => {
    expect(pushCommand(parseImageReference('localhost:5000/models/m:v1'), ann, [layer('config.json'), layer("it's [1]*.bin")])).to.equal(
      `modelcar push --hf-repo org/m --hf-revision ${SHA} --registry localhost:5000 --target-repo models/m --target-tag v1 ` +
        `--include config.json --include 'it'\\''s [[]1][*].bin'`,
    )
    // A plain-http registry that is not loopback needs its scheme; a digest reference has no tag to pass.
    expect(pushCommand(parseImageReference(`http://reg.example:5000/m@sha256:${'2'.repeat(64)}`), ann, [layer('w.bin')])).to.equal(
      `modelcar push --hf-repo org/m --hf-revision ${SHA} --registry http://reg.example:5000 --target-repo m --include w.bin`,
    )
  })

  it('says nothing it cannot back: no modelcar annotations, an invalid one, or a layer without a file name', () => {
    const ref = parseImageReference('localhost:5000/m:v1')
    expect(pushCommand(ref, {}, [layer('a')])).to.equal(undefined)
    expect(pushCommand(ref, {...ann, 'dev.modelcar.hf.repo': '../x'}, [layer('a')])).to.equal(undefined)
    expect(pushCommand(ref, {...ann, 'org.opencontainers.image.revision': 'a b'}, [layer('a')])).to.equal(undefined)
    expect(pushCommand(ref, ann, [layer('a'), layer()])).to.equal(undefined)
  })

  it('tells missing blobs to push again, damaged ones to be dropped first, and leaves the rest alone', () => {
    expect(repairFor(blob('layer', 'missing'), 'CMD')).to.equal('push again: CMD')
    expect(repairFor(blob('manifest', 'digest mismatch'), 'CMD')).to.equal('push again: CMD')
    expect(repairFor(blob('config', 'size mismatch'), undefined)).to.equal(
      'delete the blob and garbage-collect the registry (it keeps the bytes it has under a digest), ' +
        'then push the image again from its source',
    )
    for (const r of ['ok', 'unchecked', 'hygiene', 'malformed'] as const) expect(repairFor(blob('layer', r), 'CMD')).to.equal(undefined)
    expect(repairFor(blob('index', 'missing'), 'CMD')).to.equal(undefined)
  })

  it('escapes fnmatch and shell specials', () => {
    expect(escapeGlob('a*b?c[d]')).to.equal('a[*]b[?]c[[]d]')
    expect(shellQuote('models/a-b_c.safetensors')).to.equal('models/a-b_c.safetensors')
    expect(shellQuote('a b')).to.equal(`'a b'`)
    expect(shellQuote(`x'y`)).to.equal(`'x'\\''y'`)
  })
})
