import {expect} from 'chai'
import {digestOf} from '../../../src/lib/oci/digest.js'
import {buildBasedImage, buildIndex, type BaseImage} from '../../../src/lib/oci/image.js'
import {buildImage} from '../../../src/lib/oci/manifest.js'
import {MODELPACK} from '../../../src/lib/oci/modelpack.js'

const d = (c: string) => `sha256:${c.repeat(64)}`
const SOURCE = {hfRepo: 'acme/tiny', repoUrl: 'https://hf.example/acme/tiny', sha: 'a'.repeat(40)}
const LAYERS = [
  {path: 'model.safetensors', digest: d('2'), size: 3072, contentSha256: 'b'.repeat(64)},
  {path: 'README.md', digest: d('1'), size: 2048, contentSha256: 'c'.repeat(64)},
]
const BASE: BaseImage = {
  name: 'registry.example/base/busybox:1',
  digest: d('9'),
  platforms: [
    {
      platform: {os: 'linux', architecture: 'arm64', variant: 'v8'},
      manifestDigest: d('8'),
      layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('7'), size: 100, annotations: {}}],
      diffIds: [d('6')],
      runtime: {Env: ['PATH=/bin'], Cmd: ['sh'], User: '1000', Labels: {x: 'y'}, ExposedPorts: {'80/tcp': {}}},
      history: [{created_by: 'base layer'}, {created_by: 'ENV', empty_layer: true}],
    },
  ],
}

describe('oci/image: images on a base, indexes, ModelPack', () => {
  it('puts the base layers first, keeps only the runtime settings, lists diff_ids and history for both', () => {
    const image = buildBasedImage(LAYERS, SOURCE, BASE, BASE.platforms[0])
    const config = JSON.parse(image.config.toString())
    expect(config).to.deep.equal({
      architecture: 'arm64',
      os: 'linux',
      variant: 'v8',
      config: {Cmd: ['sh'], Env: ['PATH=/bin'], User: '1000'},
      rootfs: {type: 'layers', diff_ids: [d('6'), d('1'), d('2')]},
      history: [
        {created_by: 'base layer'},
        {created_by: 'ENV', empty_layer: true},
        {created_by: 'modelcar: models/README.md', comment: `acme/tiny@${SOURCE.sha}`},
        {created_by: 'modelcar: models/model.safetensors', comment: `acme/tiny@${SOURCE.sha}`},
      ],
    })
    const manifest = JSON.parse(image.manifest.toString())
    expect(manifest.layers.map((l: {digest: string}) => l.digest)).to.deep.equal([d('7'), d('1'), d('2')])
    expect(manifest.layers[0]).to.deep.equal({mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('7'), size: 100})
    expect(manifest.annotations['org.opencontainers.image.base.name']).to.equal(BASE.name)
    expect(manifest.annotations['org.opencontainers.image.base.digest']).to.equal(d('8'))
    expect(image.manifestDigest).to.equal(digestOf(image.manifest))
    expect(buildBasedImage([...LAYERS].reverse(), SOURCE, BASE, BASE.platforms[0]).manifestDigest).to.equal(image.manifestDigest)
  })

  it('names the base in the history when the base history does not account for its layers', () => {
    const platform = {...BASE.platforms[0], history: []}
    const config = JSON.parse(buildBasedImage(LAYERS, SOURCE, BASE, platform).config.toString())
    expect(config.history[0]).to.deep.equal({created_by: `base image ${BASE.name}@${d('8')}`})
    expect(config.history).to.have.length(3)
  })

  it('lists platforms and the ModelPack artifact in an index', () => {
    const a = buildImage(LAYERS, SOURCE)
    const {index, digest} = buildIndex(
      [
        {manifest: a.manifest, digest: a.manifestDigest, platform: {os: 'linux', architecture: 'amd64'}},
        {manifest: Buffer.from('{}'), digest: d('5'), artifactType: MODELPACK.artifactType},
      ],
      {k: 'v'},
    )
    expect(JSON.parse(index.toString())).to.deep.equal({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: a.manifestDigest,
          size: a.manifest.length,
          platform: {os: 'linux', architecture: 'amd64'},
        },
        {mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('5'), size: 2, artifactType: MODELPACK.artifactType},
      ],
      annotations: {k: 'v'},
    })
    expect(digest).to.equal(digestOf(index))
  })
})
