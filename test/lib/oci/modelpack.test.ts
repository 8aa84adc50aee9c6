import {expect} from 'chai'
import {digestOf} from '../../../src/lib/oci/digest.js'
import {buildModelPack, modelPackKind, paramSize} from '../../../src/lib/oci/modelpack.js'
import {modelPackConfigProblems, modelPackManifestProblems, SPEC} from '../../fixtures/modelpack-spec.js'

const d = (c: string) => `sha256:${c.repeat(64)}`
const SOURCE = {hfRepo: 'acme/tiny', repoUrl: 'https://hf.example/acme/tiny', sha: 'a'.repeat(40)}
const MiB = 1024 * 1024
// A small repo with one file of every kind the spec names, and two it cannot name.
const FILES: Array<[path: string, fileSize: number]> = [
  ['LICENSE', 11_000],
  ['README.md', 2_000],
  ['config.json', 700],
  ['data/eval.parquet', 5_000],
  ['generation_config.json', 100],
  ['merges.txt', 400_000],
  ['model-00001-of-00002.safetensors', 3 * MiB],
  ['model-00002-of-00002.safetensors', 2 * MiB],
  ['modeling_tiny.py', 9_000],
  ['requirements.txt', 50],
  ['tokenizer.json', 2 * MiB],
  ['unknown.big', 200 * MiB],
  ['unknown.small', 10],
]
// What model-spec's specs-go/v1/mediatype.go calls each kind (the `.tar` variant: our layers are uncompressed tars).
const TAR = (kind: string) => `application/vnd.cncf.model.${kind}.v1.tar`
const EXPECTED_KIND: Record<string, string> = {
  LICENSE: TAR('doc'),
  'README.md': TAR('doc'),
  'config.json': TAR('weight.config'),
  'data/eval.parquet': TAR('dataset'),
  'generation_config.json': TAR('weight.config'),
  'merges.txt': TAR('weight.config'),
  'model-00001-of-00002.safetensors': TAR('weight'),
  'model-00002-of-00002.safetensors': TAR('weight'),
  'modeling_tiny.py': TAR('code'),
  'requirements.txt': TAR('code'),
  'tokenizer.json': TAR('weight.config'),
  'unknown.big': TAR('weight'),
  'unknown.small': TAR('weight.config'),
}
// Digests in path order, so the expected layer order is plain to read.
const LAYERS = FILES.map(([path, fileSize], i) => ({
  path,
  digest: d(i.toString(16)),
  size: fileSize + 2048,
  contentSha256: 'c'.repeat(64),
}))
const SIZES = new Map(FILES)

describe('oci/modelpack: the ModelPack manifest and config, checked against the model-spec text', () => {
  it('the spec checks themselves catch what the spec forbids', () => {
    const config = {
      descriptor: {name: '', version: 3.1, createdAt: '2025/01/01', extra: 'x'},
      config: {paramSize: 8000000, precision: 16, capabilities: {inputTypes: ['smell']}},
      modelfs: {type: 'layer', diff_ids: []},
    }
    expect(modelPackConfigProblems(config)).to.deep.equal([
      'descriptor.name: must be non-empty, got ""',
      'descriptor.version: must be string, got 3.1',
      'descriptor.createdAt: must be date-time, got "2025/01/01"',
      'descriptor.extra: not a field of the spec',
      'config.paramSize: must be param-size, got 8000000',
      'config.precision: must be string, got 16',
      'config.capabilities.inputTypes: must be modalities, got ["smell"]',
      'modelfs.diff_ids: not a field of the spec',
      'modelfs.type: must be "layers", got "layer"',
      'modelfs.diffIds: REQUIRED non-empty array of strings',
    ])
    expect(modelPackConfigProblems({descriptor: {}})).to.deep.equal(['config: REQUIRED object', 'modelfs: REQUIRED object'])
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.cnai.model.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('1'), size: 2},
      layers: [
        {mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('2'), size: 1},
        {
          mediaType: SPEC.layerMediaTypes.values().next().value,
          digest: d('3'),
          size: 1,
          annotations: {[SPEC.filepath]: '', [SPEC.untested]: 'yes', [SPEC.fileMetadata]: '{"name":"x","mode":"0644"}'},
        },
      ],
    }
    expect(modelPackManifestProblems(manifest)).to.deep.equal([
      'artifactType: must be application/vnd.cncf.model.manifest.v1+json',
      'config.mediaType: must be application/vnd.cncf.model.config.v1+json',
      'layers[0].mediaType: "application/vnd.oci.image.layer.v1.tar" is not a model-spec layer type',
      'layers[1]: org.cncf.model.filepath must not be empty',
      'layers[1]: org.cncf.model.file.mediatype.untested must be "true" or "false"',
      'layers[1].org.cncf.model.file.metadata+json.mode: wrong or missing ("0644")',
      'layers[1].org.cncf.model.file.metadata+json.uid: wrong or missing (undefined)',
      'layers[1].org.cncf.model.file.metadata+json.gid: wrong or missing (undefined)',
      'layers[1].org.cncf.model.file.metadata+json.size: wrong or missing (undefined)',
      'layers[1].org.cncf.model.file.metadata+json.mtime: wrong or missing (undefined)',
      'layers[1].org.cncf.model.file.metadata+json.typeflag: wrong or missing (undefined)',
    ])
  })

  it('a small repo: every field the spec names, with the same layer blobs as the image', () => {
    const pack = buildModelPack([...LAYERS].reverse(), SOURCE, SIZES)
    const manifest = JSON.parse(pack.manifest.toString())
    const config = JSON.parse(pack.config.toString())
    expect(modelPackManifestProblems(manifest)).to.deep.equal([])
    expect(modelPackConfigProblems(config)).to.deep.equal([])

    // docs/spec.md: an OCI image manifest with the model artifactType and a model config.
    expect(manifest.schemaVersion).to.equal(2)
    expect(manifest.mediaType).to.equal('application/vnd.oci.image.manifest.v1+json')
    expect(manifest.artifactType).to.equal('application/vnd.cncf.model.manifest.v1+json')
    expect(manifest.config).to.deep.equal({
      mediaType: 'application/vnd.cncf.model.config.v1+json',
      digest: digestOf(pack.config),
      size: pack.config.length,
    })
    expect(pack.configDigest).to.equal(digestOf(pack.config))
    expect(pack.manifestDigest).to.equal(digestOf(pack.manifest))

    // One layer per file, the image's own blob (digest and size), the media type of its kind,
    // the path inside the tar, and the tar entry's metadata (layer/tar.ts writes 0644, root, mtime 0).
    expect(manifest.layers).to.have.length(FILES.length)
    for (const [i, [path, fileSize]] of FILES.entries()) {
      const layer = manifest.layers[i]
      expect(layer.digest, path).to.equal(LAYERS[i].digest)
      expect(layer.size, path).to.equal(LAYERS[i].size)
      expect(layer.mediaType, path).to.equal(EXPECTED_KIND[path])
      expect(layer.annotations[SPEC.filepath], path).to.equal(`models/${path}`)
      expect(JSON.parse(layer.annotations[SPEC.fileMetadata]), path).to.deep.equal({
        name: path.split('/').pop(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: fileSize,
        mtime: '1970-01-01T00:00:00Z',
        typeflag: '0'.charCodeAt(0),
      })
      // Only a kind guessed from the size alone is flagged untested.
      expect(layer.annotations[SPEC.untested], path).to.equal(path.startsWith('unknown.') ? 'true' : undefined)
    }

    // docs/config.md: descriptor, config and modelfs; diffIds are the (uncompressed) layer digests, first to last.
    expect(config).to.deep.equal({
      descriptor: {name: 'tiny', vendor: 'acme', revision: SOURCE.sha, sourceURL: SOURCE.repoUrl},
      config: {format: 'safetensors'},
      modelfs: {type: 'layers', diffIds: manifest.layers.map((l: {digest: string}) => l.digest)},
    })
    expect(buildModelPack(LAYERS, SOURCE, SIZES).manifestDigest, 'the order of the input does not matter').to.equal(pack.manifestDigest)
  })

  it('fills descriptor and config fields from what the Hub states of the commit, and only those', () => {
    const facts = {
      lastModified: '2025-04-28T12:30:00.000Z',
      licenses: ['apache-2.0', 'other'],
      modelType: 'qwen3',
      paramCount: 596049920,
      dtypes: ['BF16'],
    }
    const config = JSON.parse(buildModelPack(LAYERS, SOURCE, SIZES, facts).config.toString())
    expect(modelPackConfigProblems(config)).to.deep.equal([])
    expect(config.descriptor).to.deep.equal({
      createdAt: '2025-04-28T12:30:00.000Z',
      licenses: ['apache-2.0'],
      family: 'qwen3',
      name: 'tiny',
      vendor: 'acme',
      revision: SOURCE.sha,
      sourceURL: SOURCE.repoUrl,
    })
    expect(config.config).to.deep.equal({format: 'safetensors', paramSize: '596M', precision: 'bf16'})
    const mixed = JSON.parse(buildModelPack(LAYERS, SOURCE, SIZES, {dtypes: ['F32', 'I8'], licenses: ['other']}).config.toString())
    expect(mixed.config.precision).to.equal('mixed')
    expect(mixed.descriptor).to.not.have.property('licenses')
  })

  it('writes paramSize as config.md asks: a count with at most one decimal and one scale letter', () => {
    const sizes = [596049920, 7615616512, 1_500_000_000_000, 124_439_808, 999_950_000, 22_000, 2e15].map(paramSize)
    expect(sizes).to.deep.equal(['596M', '7.6B', '1.5T', '124.4M', '1000M', '22K', '2Q'])
    for (const s of sizes)
      expect(modelPackConfigProblems({descriptor: {}, config: {paramSize: s}, modelfs: {type: 'layers', diffIds: [d('1')]}})).to.deep.equal(
        [],
      )
  })

  it('names the weights format as the spec examples do, and none when the weights mix formats', () => {
    const format = (paths: string[]) => {
      const layers = paths.map((path, i) => ({path, digest: d(String(i)), size: 2048, contentSha256: 'c'.repeat(64)}))
      const pack = buildModelPack(layers, SOURCE, new Map(paths.map((p) => [p, 0])))
      return JSON.parse(pack.config.toString()).config.format
    }
    expect(format(['pytorch_model.bin', 'pytorch_model.bin.index.json'])).to.equal('pytorch')
    expect(format(['model.onnx'])).to.equal('onnx')
    expect(format(['x.Q4_K_M.gguf', 'config.json'])).to.equal('gguf')
    expect(format(['model.safetensors', 'pytorch_model.bin'])).to.equal(undefined)
    expect(format(['README.md'])).to.equal(undefined)
  })

  it('sorts a file into a kind by name, before any guess from its size', () => {
    const kind = (path: string, size = 0) => modelPackKind(path, size).mediaType
    expect(['README.md', 'docs/usage.md', 'LICENSE.txt', 'assets/diagram.png'].map((p) => kind(p))).to.deep.equal(Array(4).fill(TAR('doc')))
    expect(['tokenizer.model', 'vocab.txt', 'chat_template.jinja', 'special_tokens_map.json'].map((p) => kind(p))).to.deep.equal(
      Array(4).fill(TAR('weight.config')),
    )
    expect(['x.gguf', 'pytorch_model.bin', 'consolidated.pth', 'flax_model.msgpack'].map((p) => kind(p))).to.deep.equal(
      Array(4).fill(TAR('weight')),
    )
    expect(kind('scripts/convert.sh')).to.equal(TAR('code'))
    // A big config.json is still configuration: the name decides first.
    expect(kind('config.json', 500 * MiB)).to.equal(TAR('weight.config'))
    expect(modelPackKind('config.json').guessed).to.equal(false)
  })
})
