import {expect} from 'chai'
import type {HubFile} from '../../../src/lib/hf/client.js'
import {layerSize} from '../../../src/lib/layer/tar.js'
import {fileFilter} from '../../../src/lib/push/filter.js'
import {compareWithHub, imageFiles, provenance, repoFromSource} from '../../../src/lib/verify/hub-compare.js'
import type {LayerScan} from '../../../src/lib/verify/layer-scan.js'
import type {Descriptor} from '../../../src/lib/oci/types.js'

const HF = new URL('https://huggingface.co')
const TAR = 'application/vnd.oci.image.layer.v1.tar'
const sha = (c: string) => c.repeat(64)

function layer(path: string, size: number, contentSha256?: string, digestChar = '1'): Descriptor {
  return {
    mediaType: TAR,
    digest: `sha256:${digestChar.repeat(64)}`,
    size: layerSize(path, size),
    annotations: {'org.opencontainers.image.title': path, ...(contentSha256 ? {'dev.modelcar.content.sha256': contentSha256} : {})},
  }
}

const all = () => true

describe('verify/hub-compare', () => {
  it('reads the source repo and revision from the annotations', () => {
    expect(provenance({'dev.modelcar.hf.repo': 'o/m', 'org.opencontainers.image.revision': 'abc'}, HF)).to.deep.equal({
      repo: 'o/m',
      revision: 'abc',
    })
    expect(
      provenance({'org.opencontainers.image.source': 'https://huggingface.co/o/m', 'org.opencontainers.image.revision': 'abc'}, HF),
    ).to.deep.equal({repo: 'o/m', revision: 'abc'})
    expect(provenance({'org.opencontainers.image.revision': 'abc'}, HF))
      .to.have.property('error')
      .that.match(/names no Hub repo/)
    expect(provenance({'dev.modelcar.hf.repo': 'o/m'}, HF))
      .to.have.property('error')
      .that.match(/names no revision/)
  })

  it('refuses annotations that are not a repo id or a ref, naming the annotation, before anything asks the Hub', () => {
    const rev = 'org.opencontainers.image.revision'
    expect(provenance({'dev.modelcar.hf.repo': '../../api/whoami?x=', [rev]: 'main'}, HF)).to.deep.equal({
      error:
        'annotation dev.modelcar.hf.repo "../../api/whoami?x=" is not a Hub repo id ' +
        '(repo ids are "name" or "org/name"): the Hub was not asked',
    })
    expect(provenance({'dev.modelcar.hf.repo': 'o/m?x=1', [rev]: 'main'}, HF))
      .to.have.property('error')
      .that.equals(
        'annotation dev.modelcar.hf.repo "o/m?x=1" is not a Hub repo id ' +
          '(repo ids may only use letters, digits, "-", "_" and "."): the Hub was not asked',
      )
    // An invalid hf.repo is not replaced by a valid source URL: the image's own claim is wrong.
    const withSource = {'dev.modelcar.hf.repo': 'a/../b', 'org.opencontainers.image.source': 'https://huggingface.co/o/m', [rev]: 'main'}
    expect(provenance(withSource, HF))
      .to.have.property('error')
      .that.match(/^annotation dev\.modelcar\.hf\.repo "a\/\.\.\/b"/)
    const badRefs = ['../../whoami', 'main?x=1', 'a b', 'refs//pr', '.hidden', 'x.lock', 'x@{1}', '', 'x'.repeat(256), 'a\u0000b', 'main/']
    const refError = /^annotation org\.opencontainers\.image\.revision ".*" is not a commit sha or ref \(.+\): the Hub was not asked$/
    for (const bad of badRefs) {
      const result = provenance({'dev.modelcar.hf.repo': 'o/m', [rev]: bad}, HF)
      expect(result, bad).to.have.property('error')
      if (bad !== '') expect((result as {error: string}).error, bad).to.match(refError)
    }
    for (const good of ['main', 'v1.0', 'refs/pr/12', 'release/2024-01', 'a'.repeat(40), 'feature_x']) {
      expect(provenance({'dev.modelcar.hf.repo': 'o/m', [rev]: good}, HF), good).to.deep.equal({repo: 'o/m', revision: good})
    }
    expect(repoFromSource('https://mirror.example/hf/o/m', new URL('https://mirror.example/hf'))).to.equal('o/m')
    expect(repoFromSource('https://huggingface.co/models/o/m/', HF)).to.equal('o/m')
    expect(repoFromSource('https://github.com/a/b/c', HF)).to.equal(undefined)
    expect(repoFromSource('not a url', HF)).to.equal(undefined)
  })

  it('finds missing, unexpected and excluded files', () => {
    const hub: HubFile[] = [
      {path: 'a.json', size: 10, oid: 'x'},
      {path: 'b.bin', size: 20, oid: 'y'},
      {path: 'c.txt', size: 5, oid: 'z'},
    ]
    const image = imageFiles(
      [layer('a.json', 10, undefined, '1'), layer('c.txt', 5, undefined, '2'), layer('extra.bin', 1, undefined, '3')],
      new Map(),
    )
    expect(compareWithHub(hub, image, fileFilter([], ['*.txt'])).map((r) => [r.path, r.result, r.detail])).to.deep.equal([
      ['a.json', 'ok', undefined],
      ['b.bin', 'missing from image', '20 bytes on the Hub'],
      ['c.txt', 'unexpected', 'excluded by --include/--exclude'],
      ['extra.bin', 'unexpected', 'not in the Hub commit'],
    ])
  })

  it('compares sizes through the layer size without --deep, and through the tar with it', () => {
    const hub: HubFile[] = [{path: 'a.bin', size: 1000, oid: 'x'}]
    expect(compareWithHub(hub, imageFiles([layer('a.bin', 1000)], new Map()), all)[0].result).to.equal('ok')
    expect(compareWithHub(hub, imageFiles([layer('a.bin', 1001)], new Map()), all)[0].result).to.equal('ok') // same 512-byte blocks
    expect(compareWithHub(hub, imageFiles([layer('a.bin', 1100)], new Map()), all)[0]).to.include({result: 'size mismatch'})
    const d = layer('a.bin', 1000)
    const scan = {files: [{path: 'models/a.bin', size: 1001, sha256: sha('0')}]} as LayerScan
    expect(compareWithHub(hub, imageFiles([d], new Map([[d.digest, scan]])), all)[0]).to.deep.include({
      result: 'size mismatch',
      detail: 'the image has 1001 bytes, the Hub 1000',
    })
  })

  it('compares LFS sha256 with the annotation and the tar, and git blob ids of small files', () => {
    const lfs: HubFile[] = [{path: 'w.bin', size: 10, oid: 'x', lfsSha256: sha('a')}]
    expect(compareWithHub(lfs, imageFiles([layer('w.bin', 10, sha('a'))], new Map()), all)[0].result).to.equal('ok')
    expect(compareWithHub(lfs, imageFiles([layer('w.bin', 10, sha('b'))], new Map()), all)[0]).to.include({result: 'sha256 mismatch'})
    const d = layer('w.bin', 10, sha('a'))
    const scan = {files: [{path: 'models/w.bin', size: 10, sha256: sha('c')}]} as LayerScan
    expect(compareWithHub(lfs, imageFiles([d], new Map([[d.digest, scan]])), all)[0].detail).to.match(/^file in the layer cccccccccccc…/)
    const small: HubFile[] = [{path: 's.txt', size: 3, oid: 'd'.repeat(40)}]
    const s = layer('s.txt', 3)
    const gitScan = (oid: string) =>
      new Map([[s.digest, {files: [{path: 'models/s.txt', size: 3, sha256: sha('0'), gitOid: oid}]} as LayerScan]])
    expect(compareWithHub(small, imageFiles([s], gitScan('d'.repeat(40))), all)[0].result).to.equal('ok')
    expect(compareWithHub(small, imageFiles([s], gitScan('e'.repeat(40))), all)[0].result).to.equal('content mismatch')
  })

  it('takes the files of untitled layers from the tar, under models/', () => {
    const d: Descriptor = {mediaType: TAR, digest: `sha256:${'9'.repeat(64)}`, size: 4096, annotations: {}}
    const scan = {
      files: [
        {path: 'models/x/y.bin', size: 1, sha256: sha('0')},
        {path: 'etc/hosts', size: 1, sha256: sha('0')},
      ],
    } as LayerScan
    expect([...imageFiles([d], new Map([[d.digest, scan]])).keys()]).to.deep.equal(['x/y.bin'])
  })
})
