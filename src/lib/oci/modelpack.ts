// A CNCF ModelPack manifest over the very layer blobs of the image: the same
// digests under the model-spec media types, so it costs one small config blob
// and no layer bytes. Its config says what the Hub says about the revision.
import {digestOf} from './digest.js'
import {modelLayerDescriptor, sourceAnnotations, type ImageSource} from './image.js'
import {canonicalJson, sortLayers, type LayerRecord} from './manifest.js'
import {MEDIA} from './types.js'
import {MODELS_DIR} from '../layer/tar.js'

export const MODELPACK = {
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  config: 'application/vnd.cncf.model.config.v1+json',
  weight: 'application/vnd.cncf.model.weight.v1.tar',
  weightConfig: 'application/vnd.cncf.model.weight.config.v1.tar',
  doc: 'application/vnd.cncf.model.doc.v1.tar',
  filepath: 'org.cncf.model.filepath',
} as const

const WEIGHT_EXT = /\.(safetensors|gguf|bin|pt|pth|ckpt|onnx|h5|msgpack|tflite|pb|mlmodel|npz|nemo)$/i
const DOC = /(^|\/)(readme|license|licence|notice|copying|model_card|citation)([^/]*)$|\.(md|rst)$/i

/** weight, weight config (config, tokenizer, anything else the runtime reads) or doc, by file name. */
export function modelPackKind(path: string): string {
  if (DOC.test(path)) return MODELPACK.doc
  if (WEIGHT_EXT.test(path)) return MODELPACK.weight
  return MODELPACK.weightConfig
}

/** The weights' format, when one format names them all. */
function weightFormat(layers: LayerRecord[]): string | undefined {
  const formats = new Set(layers.filter((l) => WEIGHT_EXT.test(l.path)).map((l) => l.path.split('.').pop()!.toLowerCase()))
  return formats.size === 1 ? [...formats][0] : undefined
}

export function buildModelPack(
  layers: LayerRecord[],
  source: ImageSource,
): {
  config: Buffer
  configDigest: string
  manifest: Buffer
  manifestDigest: string
} {
  const sorted = sortLayers(layers)
  const [vendor, ...rest] = source.hfRepo.includes('/') ? source.hfRepo.split('/') : [undefined, source.hfRepo]
  const format = weightFormat(sorted)
  const config = Buffer.from(
    canonicalJson({
      descriptor: {
        name: rest.join('/'),
        ...(vendor ? {vendor} : {}),
        revision: source.sha,
        sourceURL: source.repoUrl,
      },
      config: format ? {format} : {},
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
      // The tar holds models/<path>: the file path says so.
      layers: sorted.map((l) => modelLayerDescriptor(l, modelPackKind(l.path), {[MODELPACK.filepath]: `${MODELS_DIR}/${l.path}`})),
      annotations: sourceAnnotations(source),
    }),
  )
  return {config, configDigest, manifest, manifestDigest: digestOf(manifest)}
}
