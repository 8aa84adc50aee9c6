// A CNCF ModelPack manifest over the very layer blobs of the image: the same
// digests under the model-spec media types, so it costs one small config blob
// and no layer bytes. Its config says what the Hub says about the revision
// (name, vendor, revision, source; and from the commit's model info its date,
// licence, model_type as family, safetensors parameter count and dtype).
//
// What the model-spec (github.com/modelpack/model-spec) asks for, field by field:
// - docs/spec.md: the manifest is an OCI image manifest (`mediaType`
//   application/vnd.oci.image.manifest.v1+json, REQUIRED) with `artifactType`
//   application/vnd.cncf.model.manifest.v1+json (REQUIRED) and a `config`
//   descriptor of mediaType application/vnd.cncf.model.config.v1+json (REQUIRED).
//   Layers: one per weight file (SHOULD); weights best left uncompressed; tar
//   entries with constant mtime/uid/gid/mode, in a reproducible order.
// - specs-go/v1/mediatype.go: five layer kinds, weight, weight.config (config.json,
//   tokenizer.json...), doc (README.md, LICENSE...), code (scripts, code files) and
//   dataset, each as `application/vnd.cncf.model.<kind>.v1.raw` (the bare file),
//   `.tar`, `.tar+gzip` or `.tar+zstd`. Our layers are uncompressed tars holding
//   models/<path>, so the `.tar` variant is the one that names these bytes.
// - docs/config.md, specs-go/v1/config.go, schema/config-schema.json: the config
//   JSON has `descriptor` (REQUIRED object: createdAt RFC 3339, authors[], vendor,
//   family, name (non-empty), version, title, description, docURL, sourceURL,
//   revision, licenses[], all OPTIONAL), `config` (REQUIRED object: architecture,
//   format, paramSize, precision, quantization, capabilities, all OPTIONAL) and
//   `modelfs` (REQUIRED: type "layers", diffIds = the uncompressed layer digests,
//   first to last, at least one). No other keys at any level.
// - docs/annotations.md, specs-go/v1/annotations.go: layer annotations
//   org.cncf.model.filepath (the file's path), org.cncf.model.file.metadata+json
//   (JSON {name, mode, uid, gid, size, mtime, typeflag}) and
//   org.cncf.model.file.mediatype.untested ("true" when the kind was guessed).
// Not written, because the Hub states none of them as a fact: authors, version,
// title, description, docURL, architecture (transformer/cnn/...), quantization
// and capabilities.
import {posix} from 'node:path'
import type {HubModelFacts} from '../hf/facts.js'
import {digestOf} from './digest.js'
import type {ImageSource} from './image.js'
import {modelLayerDescriptor, sourceAnnotations} from './manifest.js'
import {canonicalJson, sortLayers, type LayerRecord} from './manifest.js'
import {MEDIA} from './types.js'
import {MODELS_DIR} from '../layer/tar.js'

export const MODELPACK = {
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  config: 'application/vnd.cncf.model.config.v1+json',
  weight: 'application/vnd.cncf.model.weight.v1.tar',
  weightConfig: 'application/vnd.cncf.model.weight.config.v1.tar',
  doc: 'application/vnd.cncf.model.doc.v1.tar',
  code: 'application/vnd.cncf.model.code.v1.tar',
  dataset: 'application/vnd.cncf.model.dataset.v1.tar',
  filepath: 'org.cncf.model.filepath',
  fileMetadata: 'org.cncf.model.file.metadata+json',
  untested: 'org.cncf.model.file.mediatype.untested',
} as const

// File kinds by name, most specific first (requirements.txt is code, merges.txt a tokenizer file).
const DOC = /(^|\/)(readme|license|licence|notice|copying|model_card|citation)[^/]*$|\.(md|rst|pdf|png|jpe?g|gif|svg|webp)$/i
const CODE = /(^|\/)requirements[^/]*\.txt$|\.(py|ipynb|sh|bash|js|mjs|ts|go|rs|c|cc|cpp|h|hpp|cu|cuh|java|rb|lua|patch)$/i
const WEIGHT = /\.(safetensors|gguf|ggml|bin|pt|pth|pt2|ckpt|onnx|h5|keras|msgpack|tflite|pb|mlmodel|npz|npy|nemo|pkl)$/i
const DATASET = /\.(parquet|arrow|csv|tsv)$/i
const WEIGHT_CONFIG =
  /(^|\/)(config\.json|generation_config\.json|tokenizer[^/]*)$|\.(json|jsonc|yaml|yml|toml|ini|cfg|txt|model|tiktoken|jinja|vocab|spm)$/i
/** An unknown file this big is weights, smaller ones runtime configuration (modctl draws the same line). */
const UNKNOWN_WEIGHT_BYTES = 128 * 1024 * 1024

/** The layer media type for a file, and whether it was guessed from nothing but its size. */
export function modelPackKind(path: string, fileSize = 0): {mediaType: string; guessed: boolean} {
  for (const [pattern, mediaType] of [
    [DOC, MODELPACK.doc],
    [CODE, MODELPACK.code],
    [WEIGHT, MODELPACK.weight],
    [DATASET, MODELPACK.dataset],
    [WEIGHT_CONFIG, MODELPACK.weightConfig],
  ] as const) {
    if (pattern.test(path)) return {mediaType, guessed: false}
  }
  return {mediaType: fileSize > UNKNOWN_WEIGHT_BYTES ? MODELPACK.weight : MODELPACK.weightConfig, guessed: true}
}

/** config.format as the spec's examples name formats (onnx, tensorflow, pytorch), or the file format itself. */
const FORMAT: Record<string, string> = {
  safetensors: 'safetensors',
  gguf: 'gguf',
  ggml: 'ggml',
  onnx: 'onnx',
  bin: 'pytorch',
  pt: 'pytorch',
  pth: 'pytorch',
  pt2: 'pytorch',
  ckpt: 'pytorch',
  h5: 'tensorflow',
  keras: 'tensorflow',
  pb: 'tensorflow',
  tflite: 'tflite',
  msgpack: 'flax',
  mlmodel: 'coreml',
  nemo: 'nemo',
}

/** The weights' format, when one format names them all. */
function weightFormat(layers: LayerRecord[]): string | undefined {
  const formats = new Set(layers.filter((l) => WEIGHT.test(l.path)).map((l) => FORMAT[l.path.split('.').pop()!.toLowerCase()]))
  return formats.size === 1 ? [...formats][0] : undefined
}

/** The tar entry our layer holds, as the spec's file metadata describes it (see layer/tar.ts: 0644, root, mtime 0). */
function fileMetadata(path: string, size: number): string {
  const meta = {name: posix.basename(path), mode: 0o644, uid: 0, gid: 0, size, mtime: '1970-01-01T00:00:00Z', typeflag: '0'.charCodeAt(0)}
  return JSON.stringify(meta)
}

/** config.md's paramSize, `<count><scale-prefix>` with at most one decimal: 596049920 -> "596M", 7615616512 -> "7.6B". */
export function paramSize(count: number): string {
  const scales: Array<[number, string]> = [
    [1e15, 'Q'],
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ]
  const [scale, prefix] = scales.find(([s]) => count >= s) ?? [1e3, 'K']
  return `${Number((count / scale).toFixed(1))}${prefix}`
}

/** config.md's precision from the safetensors dtypes: one dtype by its usual name, several "mixed". */
function precision(dtypes: string[] | undefined): string | undefined {
  if (!dtypes?.length) return undefined
  if (dtypes.length > 1) return 'mixed'
  const names: Record<string, string> = {BF16: 'bf16', F16: 'fp16', F32: 'fp32', F64: 'fp64', I8: 'int8', U8: 'uint8'}
  return names[dtypes[0]] ?? dtypes[0].toLowerCase()
}

const nonEmpty = <T>(list: T[] | undefined) => (list?.length ? list : undefined)

/** descriptor and config fields from what the Hub states about the commit; none is invented. */
function hubFields(facts: HubModelFacts): {descriptor: Record<string, unknown>; config: Record<string, unknown>} {
  return {
    // "other" and "unknown" are Hub placeholders, not licences.
    descriptor: {
      createdAt: facts.lastModified,
      licenses: nonEmpty(facts.licenses?.filter((l) => !['other', 'unknown'].includes(l))),
      family: facts.modelType,
    },
    config: {paramSize: facts.paramCount ? paramSize(facts.paramCount) : undefined, precision: precision(facts.dtypes)},
  }
}

/** `fileSizes`: each file's own size by repo path (a layer's size counts the tar framing too). */
export function buildModelPack(
  layers: LayerRecord[],
  source: ImageSource,
  fileSizes: ReadonlyMap<string, number>,
  facts: HubModelFacts = {},
): {
  config: Buffer
  configDigest: string
  manifest: Buffer
  manifestDigest: string
} {
  const sorted = sortLayers(layers)
  const [vendor, ...rest] = source.hfRepo.includes('/') ? source.hfRepo.split('/') : [undefined, source.hfRepo]
  const format = weightFormat(sorted)
  const hub = hubFields(facts)
  // canonicalJson leaves out undefined values: a fact the Hub did not state is simply absent.
  const config = Buffer.from(
    canonicalJson({
      descriptor: {
        ...hub.descriptor,
        name: rest.join('/'),
        vendor,
        revision: source.sha,
        sourceURL: source.repoUrl,
      },
      config: {...hub.config, format},
      modelfs: {type: 'layers', diffIds: sorted.map((l) => l.digest)},
    }),
  )
  const configDigest = digestOf(config)
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      artifactType: MODELPACK.artifactType,
      config: {mediaType: MODELPACK.config, digest: configDigest, size: config.length},
      layers: sorted.map((l) => {
        const size = fileSizes.get(l.path)
        if (size === undefined) throw new Error(`modelpack: no file size for ${l.path}`)
        const kind = modelPackKind(l.path, size)
        return modelLayerDescriptor(l, kind.mediaType, {
          // The tar holds models/<path>: the file path says so.
          [MODELPACK.filepath]: `${MODELS_DIR}/${l.path}`,
          [MODELPACK.fileMetadata]: fileMetadata(l.path, size),
          ...(kind.guessed ? {[MODELPACK.untested]: 'true'} : {}),
        })
      }),
      annotations: sourceAnnotations(source),
    }),
  )
  return {config, configDigest, manifest, manifestDigest: digestOf(manifest)}
}
