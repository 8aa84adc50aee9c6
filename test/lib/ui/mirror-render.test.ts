import {expect} from 'chai'
import type {MirrorEntryResult} from '../../../src/lib/mirror/service.js'
import {textWidth} from '../../../src/lib/ui/text-width.js'
import {renderMirror} from '../../../src/lib/ui/mirror-render.js'

const DIGEST = `sha256:${'ab'.repeat(32)}`
const ERROR = 'Hugging Face repo "acme/missing" was not found, or it is private and no valid token was sent: check the repo or HF_TOKEN.'
const results: MirrorEntryResult[] = [
  {
    entry: 0,
    hfRepo: 'acme/a-model-with-quite-a-long-name',
    revision: 'main',
    sha: 'a'.repeat(40),
    imageRef: 'registry.example.com/models/a-model-with-quite-a-long-name:aaaaaaaaaaaa',
    outcome: 'pushed',
    bytesUploaded: 3 * 1024 * 1024,
    seconds: 75,
    digest: DIGEST,
    runId: 4,
  },
  {
    entry: 1,
    hfRepo: 'acme/b',
    revision: 'v1',
    imageRef: 'r.example.com/b:v1',
    outcome: 'current',
    bytesUploaded: 0,
    seconds: 0.1,
    digest: DIGEST,
  },
  {
    entry: 2,
    hfRepo: 'acme/missing',
    revision: 'main',
    imageRef: 'r.example.com/missing',
    outcome: 'failed',
    bytesUploaded: 0,
    seconds: 0,
    error: ERROR,
  },
]

describe('mirror summary', () => {
  it('is one table of every entry with the totals; not on a terminal nothing is cut', () => {
    const lines = renderMirror(results, {index: 0, count: 1}).split('\n')
    expect(lines[0]).to.match(/^ENTRY +IMAGE +OUTCOME +UPLOADED +TIME +DIGEST \/ ERROR$/)
    expect(lines[1]).to.match(
      /^\[0\] acme\/a-model-with-quite-a-long-name@main +registry\.example\.com\/models\/a-model-with-quite-a-long-name:aaaaaaaaaaaa +pushed +3\.0 MiB +1m15s +sha256:(ab){32}$/,
    )
    expect(lines[2]).to.match(/^\[1\] acme\/b@v1 +r\.example\.com\/b:v1 +current +0 B +0s +sha256:/)
    expect(lines[3]).to.match(/^\[2\] acme\/missing@main +r\.example\.com\/missing +failed +- +0s +Hugging Face repo/)
    expect(lines[3].endsWith(ERROR)).to.equal(true)
    expect(lines.slice(4)).to.deep.equal(['', '3 entries: 1 pushed, 1 current, 1 failed; 3.0 MiB uploaded'])
  })

  it('fits a terminal: every line within its width, the cut error given whole below, the shard named', () => {
    const text = renderMirror(results, {index: 1, count: 3}, 100)
    const lines = text.split('\n')
    const table = lines.slice(0, 4)
    for (const l of table) expect(textWidth(l), l).to.be.at.most(100)
    expect(table[3]).to.include('failed')
    expect(table[3]).to.match(/…$/)
    expect(lines).to.include(`[2] acme/missing@main failed: ${ERROR}`)
    expect(text).to.include('3 entries (shard 1 of 3): 1 pushed, 1 current, 1 failed; 3.0 MiB uploaded')
  })

  it('says when a shard has nothing to do', () => {
    expect(renderMirror([], {index: 2, count: 3})).to.equal('No entries for shard 2 of 3.')
  })
})
