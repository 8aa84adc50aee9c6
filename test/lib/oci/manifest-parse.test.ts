import {expect} from 'chai'
import {digestOf} from '../../../src/lib/oci/digest.js'
import {buildImage} from '../../../src/lib/oci/manifest.js'
import {parseManifest} from '../../../src/lib/oci/manifest-parse.js'
import {MEDIA, platformOf} from '../../../src/lib/oci/types.js'

const D = (c: string) => `sha256:${c.repeat(64)}`
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

describe('oci/manifest-parse', () => {
  it('accepts what modelcar pushes and keeps annotations', () => {
    const image = buildImage([{path: 'a.bin', digest: D('1'), size: 2048, contentSha256: 'f'.repeat(64)}], {
      hfRepo: 'o/m',
      repoUrl: 'https://huggingface.co/o/m',
      sha: 'c'.repeat(40),
    })
    const {manifest, problems} = parseManifest(image.manifest, MEDIA.manifest)
    expect(problems).to.deep.equal([])
    expect(digestOf(image.manifest)).to.equal(image.manifestDigest)
    expect(manifest!.kind).to.equal('manifest')
    if (manifest!.kind !== 'manifest') return
    expect(manifest!.config).to.include({digest: image.configDigest, size: image.config.length})
    expect(manifest!.layers[0].annotations).to.deep.equal({
      'org.opencontainers.image.title': 'a.bin',
      'dev.modelcar.content.sha256': 'f'.repeat(64),
    })
    expect(manifest!.annotations['dev.modelcar.hf.repo']).to.equal('o/m')
  })

  it('reads Docker manifest lists and OCI indexes with their platforms', () => {
    const list = {
      schemaVersion: 2,
      mediaType: MEDIA.dockerList,
      manifests: [
        {mediaType: MEDIA.dockerManifest, digest: D('2'), size: 10, platform: {os: 'linux', architecture: 'arm64', variant: 'v8'}},
        {mediaType: MEDIA.dockerManifest, digest: D('3'), size: 11},
      ],
    }
    const {manifest, problems} = parseManifest(json(list), MEDIA.dockerList)
    expect(problems).to.deep.equal([])
    expect(manifest!.kind).to.equal('index')
    if (manifest!.kind !== 'index') return
    expect(manifest!.manifests.map(platformOf)).to.deep.equal(['linux/arm64/v8', undefined])
    // No mediaType field: the Content-Type, then the shape decides.
    expect(parseManifest(json({schemaVersion: 2, manifests: []}), 'application/json').manifest!.kind).to.equal('index')
  })

  it('reports what is malformed, keeping the usable descriptors', () => {
    expect(parseManifest(Buffer.from('{nope'), MEDIA.manifest).problems).to.deep.equal(['not valid JSON'])
    expect(parseManifest(Buffer.from('[]'), MEDIA.manifest).problems).to.deep.equal(['not a JSON object'])
    const bad = {
      schemaVersion: 1,
      mediaType: MEDIA.manifest,
      config: {mediaType: MEDIA.config, digest: 'sha256:short', size: 1},
      layers: [
        {mediaType: MEDIA.layerTar, digest: D('4'), size: -1},
        {mediaType: MEDIA.layerTar, digest: D('5'), size: 5, annotations: {a: 1}},
        'x',
      ],
    }
    const {manifest, problems} = parseManifest(json(bad), MEDIA.dockerManifest)
    expect(problems).to.deep.equal([
      'schemaVersion is 1, not 2',
      `it says mediaType ${MEDIA.manifest} but the registry serves it as ${MEDIA.dockerManifest}`,
      'config has no valid digest ("sha256:short")',
      'layers[0] has no valid size (-1)',
      'layers[1].annotations["a"] is not a string',
      'layers[2] is not an object',
    ])
    expect(manifest!.kind === 'manifest' && manifest!.config).to.equal(undefined)
    expect(manifest!.kind === 'manifest' && manifest!.layers.map((l) => l.digest)).to.deep.equal([D('5')])
    expect(parseManifest(json({schemaVersion: 2, mediaType: MEDIA.manifest}), MEDIA.manifest).problems).to.deep.equal([
      'an image manifest needs a "config" descriptor',
      'an image manifest needs a "layers" array',
    ])
    expect(parseManifest(json({schemaVersion: 2, mediaType: 'application/vnd.example+json'}), '').problems).to.deep.equal([
      'unknown manifest media type application/vnd.example+json',
    ])
    const unstated = {schemaVersion: 2, config: {mediaType: MEDIA.config, digest: D('6'), size: 1}, layers: []}
    expect(parseManifest(json(unstated), MEDIA.dockerManifest).problems).to.deep.equal(['a Docker manifest must state its mediaType'])
  })
})
