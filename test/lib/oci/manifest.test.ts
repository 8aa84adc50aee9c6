import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {buildImage, canonicalJson} from '../../../src/lib/oci/manifest.js'
import {MEDIA} from '../../../src/lib/oci/types.js'

describe('oci/manifest', () => {
  it('serialises canonically: sorted keys, no spaces, undefined dropped', () => {
    expect(canonicalJson({b: 1, a: [true, null, 'x"y'], c: {z: 1, y: undefined, x: {}}})).to.equal(
      '{"a":[true,null,"x\\"y"],"b":1,"c":{"x":{},"z":1}}',
    )
  })

  const layers = [
    {path: 'z.bin', digest: 'sha256:' + 'b'.repeat(64), size: 3072, contentSha256: 'c'.repeat(64)},
    {path: 'a/config.json', digest: 'sha256:' + 'a'.repeat(64), size: 2048, contentSha256: 'd'.repeat(64)},
  ]
  const source = {hfRepo: 'org/m', repoUrl: 'https://huggingface.co/org/m', sha: 'e'.repeat(40)}

  it('orders layers by path and makes diff_ids equal the layer digests', () => {
    const image = buildImage(layers, source)
    const config = JSON.parse(image.config.toString())
    const manifest = JSON.parse(image.manifest.toString())
    expect(image.config.toString()).to.equal(
      `{"architecture":"amd64","config":{},"os":"linux","rootfs":{"diff_ids":["sha256:${'a'.repeat(64)}","sha256:${'b'.repeat(64)}"],"type":"layers"}}`,
    )
    expect(manifest.layers.map((l: {digest: string}) => l.digest)).to.deep.equal(config.rootfs.diff_ids)
    expect(manifest.mediaType).to.equal(MEDIA.manifest)
    expect(manifest.config).to.deep.equal({digest: image.configDigest, mediaType: MEDIA.config, size: image.config.length})
    expect(manifest.layers[0]).to.deep.equal({
      annotations: {'dev.modelcar.content.sha256': 'd'.repeat(64), 'org.opencontainers.image.title': 'a/config.json'},
      digest: 'sha256:' + 'a'.repeat(64),
      mediaType: MEDIA.layerTar,
      size: 2048,
    })
    expect(manifest.annotations).to.deep.equal({
      'dev.modelcar.hf.repo': 'org/m',
      'org.opencontainers.image.revision': 'e'.repeat(40),
      'org.opencontainers.image.source': 'https://huggingface.co/org/m',
    })
    expect(image.manifestDigest).to.equal('sha256:' + createHash('sha256').update(image.manifest).digest('hex'))
  })

  it('does not depend on the order layers finished in', () => {
    expect(buildImage([...layers].reverse(), source).manifestDigest).to.equal(buildImage(layers, source).manifestDigest)
  })
})
