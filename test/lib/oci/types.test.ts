import {expect} from 'chai'
import {buildImage} from '../../../src/lib/oci/manifest.js'
import {
  IMAGE_CONFIG_TYPES,
  IMAGE_MANIFEST_TYPES,
  INDEX_TYPES,
  MANIFEST_TYPES,
  MEDIA,
  platformOf,
  TAR_LAYER_TYPES,
} from '../../../src/lib/oci/types.js'

describe('oci/types', () => {
  it('accepts manifests OCI first, then Docker', () => {
    expect(MANIFEST_TYPES).to.deep.equal([
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ])
    expect([...INDEX_TYPES, ...IMAGE_MANIFEST_TYPES].sort()).to.deep.equal([...MANIFEST_TYPES].sort())
  })

  it('classifies what modelcar builds', () => {
    const layer = {path: 'a', digest: `sha256:${'1'.repeat(64)}`, size: 2048, contentSha256: 'f'.repeat(64)}
    const image = buildImage([layer], {hfRepo: 'o/m', repoUrl: 'u', sha: 'c'.repeat(40)})
    const manifest = JSON.parse(image.manifest.toString())
    expect(IMAGE_MANIFEST_TYPES.has(manifest.mediaType)).to.equal(true)
    expect(IMAGE_CONFIG_TYPES.has(manifest.config.mediaType)).to.equal(true)
    expect(TAR_LAYER_TYPES.has(manifest.layers[0].mediaType)).to.equal(true)
    expect(INDEX_TYPES.has(MEDIA.dockerList)).to.equal(true)
  })

  it('names a platform as os/arch[/variant]', () => {
    const d = {mediaType: MEDIA.manifest, digest: 'sha256:x', size: 1, annotations: {}}
    expect(platformOf({...d, platform: {os: 'linux', architecture: 'amd64'}})).to.equal('linux/amd64')
    expect(platformOf({...d, platform: {architecture: 'arm64', variant: 'v8'}})).to.equal('?/arm64/v8')
    expect(platformOf(d)).to.equal(undefined)
  })
})
