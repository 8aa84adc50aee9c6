import {expect} from 'chai'
import {renderVerify} from '../../../src/lib/ui/verify-render.js'
import {finish} from '../../../src/lib/verify/classify.js'
import type {BlobReport} from '../../../src/lib/verify/types.js'

const D = (c: string) => `sha256:${c.repeat(64)}`
const blob = (kind: BlobReport['kind'], digest: string, over: Partial<BlobReport> = {}): BlobReport => ({
  kind,
  digest,
  size: 10,
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  result: 'ok',
  problems: [],
  notes: [],
  ...over,
})

describe('ui/verify-render', () => {
  it('prints one row per blob and an OK line naming the image by digest', () => {
    const result = finish({reference: 'localhost:5000/m:v1', manifestDigest: D('a'), deep: false}, [
      blob('manifest', D('a')),
      blob('config', D('b')),
      blob('layer', D('c'), {title: 'config.json', notes: ['tar not read without --deep']}),
    ])
    expect(renderVerify(result).split('\n')).to.deep.equal([
      'DIGEST        KIND      TITLE        RESULT',
      'aaaaaaaaaaaa  manifest               ok',
      'bbbbbbbbbbbb  config                 ok',
      'cccccccccccc  layer     config.json  ok (tar not read without --deep)',
      '',
      `OK localhost:5000/m:v1@${D('a')}: 3 blobs, 3 ok`,
    ])
  })

  it('adds platforms, shortens long titles and details, lists wrong Hub files and Hub errors, and sums up a deep check', () => {
    const title = `deep/${'nested/'.repeat(12)}weights.safetensors`
    const result = finish(
      {reference: `localhost:5000/m@${D('a')}`, manifestDigest: D('a'), deep: true},
      [
        blob('index', D('a')),
        blob('manifest', D('d'), {platform: 'linux/amd64'}),
        blob('layer', D('c'), {
          platform: 'linux/amd64',
          title,
          files: [],
          problems: [
            {kind: 'missing', detail: 'the registry answers 404'},
            {kind: 'unchecked', detail: 'not read'},
          ],
        }),
        blob('layer', D('e'), {
          platform: 'linux/amd64',
          title: 'a.bin',
          problems: [{kind: 'hygiene', detail: 'x'.repeat(200)}],
          files: [{path: 'models/a.bin', size: 1, sha256: 'f'}],
        }),
      ],
      [
        {
          repo: 'org/m',
          revision: 'main',
          commit: 'c'.repeat(40),
          files: [
            {path: 'a.bin', result: 'ok'},
            {path: 'b.bin', result: 'missing from image', detail: 'not in any layer'},
            {path: 'c.bin', result: 'sha256 mismatch'},
          ],
        },
        {repo: 'org/m', revision: 'main', platform: 'linux/arm64', files: [], error: 'the Hub answered 404'},
      ],
      3 * 1024 * 1024,
    )
    const shortTitle = `deep/nested/nested/nested/nest…ed/nested/weights.safetensors`
    expect(renderVerify(result).split('\n')).to.deep.equal([
      `DIGEST        KIND      PLATFORM     TITLE${' '.repeat(57)}RESULT`,
      `aaaaaaaaaaaa  index     ${' '.repeat(75)}ok`,
      `dddddddddddd  manifest  linux/amd64  ${' '.repeat(62)}ok`,
      `cccccccccccc  layer     linux/amd64  ${shortTitle}  missing: the registry answers 404 (+1 more)`,
      `eeeeeeeeeeee  layer     linux/amd64  a.bin${' '.repeat(57)}hygiene: ${'x'.repeat(100)}…`,
      '',
      'HUB FILE (org/m@cccccccccccc)  RESULT              DETAIL',
      'b.bin                          missing from image  not in any layer',
      'c.bin                          sha256 mismatch     ',
      '',
      'org/m@main [linux/arm64]: not compared (the Hub answered 404)',
      '',
      `WRONG localhost:5000/m@${D('a')}: 4 blobs, 2 ok, 1 missing, 1 hygiene; 1 file re-hashed, 3.0 MiB read; ` +
        'Hub: 3 files compared, 2 wrong',
    ])
    expect(shortTitle).to.have.length(60)
  })

  it('says UNCHECKED when something could not be checked and nothing is wrong', () => {
    const unchecked = blob('manifest', D('a'), {problems: [{kind: 'unchecked', detail: 'HTTP 500'}]})
    const result = finish({reference: 'r/m:v1', deep: false}, [unchecked])
    expect(renderVerify(result).split('\n').at(-1)).to.equal('UNCHECKED r/m:v1: 1 blob, 0 ok, 1 unchecked')
  })
})
