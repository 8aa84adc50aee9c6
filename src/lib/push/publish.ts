// The last step of a push: configs, manifests and tags. A plain push writes
// one FROM-scratch manifest (oci/manifest.ts). With a base image each
// platform gets its own manifest over the same model layers; with several
// platforms or --modelpack they are listed in one index, which the tags name.
import {ModelcarError} from '../errors.js'
import type {ImageTarget} from '../oci/target.js'
import {buildBasedImage, buildIndex, type BuiltImage, type IndexEntry} from '../oci/image.js'
import {buildImage, sourceAnnotations, type LayerRecord} from '../oci/manifest.js'
import {buildModelPack, MODELPACK} from '../oci/modelpack.js'
import {ANNOTATION, MEDIA} from '../oci/types.js'
import type {PushPlan} from './plan.js'

/** What the push readied while its last layers moved (push/ahead.ts). */
export interface PublishAhead {
  /** Settles when every uploaded layer is checked; the first manifest waits for it, the first config does not. */
  landed?: Promise<void>
  /** An upload session opened for the first config. */
  configSession?: Promise<{location: URL}>
}

/** Pushes every blob and manifest the image needs, then tags it; returns the digest the tags name. */
export async function publishImage(
  layers: LayerRecord[],
  plan: PushPlan,
  registry: ImageTarget,
  tags: string[],
  ahead: PublishAhead = {},
): Promise<string> {
  const params = plan.params
  const pushConfig = firstConfigUsing(registry, ahead)
  const source = {hfRepo: params.hfRepo, repoUrl: plan.repoUrl, sha: plan.sha}
  const base = plan.base?.image
  if (!base && !params.modelpack) {
    const image = buildImage(layers, source)
    await pushConfig(image.config, image.configDigest)
    await tagAll(registry, tags, image.manifest, MEDIA.manifest, image.manifestDigest)
    return image.manifestDigest
  }
  const images: BuiltImage[] = base
    ? base.platforms.map((p) => buildBasedImage(layers, source, base, p))
    : [{...buildImage(layers, source), platform: {os: 'linux', architecture: 'amd64'}}]
  const pack = params.modelpack ? buildModelPack(layers, source, new Map(plan.files.map((f) => [f.path, f.size])), plan.facts) : undefined
  if (!pack && !params.platforms?.length && images.length === 1) {
    await pushConfig(images[0].config, images[0].configDigest)
    await tagAll(registry, tags, images[0].manifest, MEDIA.manifest, images[0].manifestDigest)
    return images[0].manifestDigest
  }
  const entries: IndexEntry[] = []
  for (const image of images) {
    await pushConfig(image.config, image.configDigest)
    await tagAll(registry, [image.manifestDigest], image.manifest, MEDIA.manifest, image.manifestDigest)
    entries.push({manifest: image.manifest, digest: image.manifestDigest, platform: image.platform})
  }
  if (pack) {
    await pushConfig(pack.config, pack.configDigest)
    await tagAll(registry, [pack.manifestDigest], pack.manifest, MEDIA.manifest, pack.manifestDigest)
    entries.push({manifest: pack.manifest, digest: pack.manifestDigest, artifactType: MODELPACK.artifactType})
  }
  const baseAnnotations: Record<string, string> = base ? {[ANNOTATION.baseName]: base.name, [ANNOTATION.baseDigest]: base.digest} : {}
  const annotations = {...sourceAnnotations(source), ...baseAnnotations}
  const {index, digest} = buildIndex(entries, annotations)
  await tagAll(registry, tags, index, MEDIA.index, digest)
  return digest
}

/** A split shard's layers as a plain image under `tag` (no base, no index): what the other shards read. */
export async function publishPartial(
  layers: LayerRecord[],
  plan: PushPlan,
  registry: ImageTarget,
  tag: string,
  ahead: PublishAhead = {},
): Promise<string> {
  const pushConfig = firstConfigUsing(registry, ahead)
  const image = buildImage(layers, {hfRepo: plan.params.hfRepo, repoUrl: plan.repoUrl, sha: plan.sha})
  await pushConfig(image.config, image.configDigest)
  await tagAll(registry, [tag], image.manifest, MEDIA.manifest, image.manifestDigest)
  return image.manifestDigest
}

/**
 * Configs are pushed without asking first: a HEAD would cost the round trip it
 * could save (a config is a few hundred bytes), on the path between the last
 * layer and the manifest, where every round trip is the push's wall time. The
 * first goes into the session opened ahead, beside the layers' checks, and
 * returns once both are done: every manifest comes after it.
 */
function firstConfigUsing(registry: ImageTarget, ahead: PublishAhead): (config: Buffer, digest: string) => Promise<void> {
  let first: PublishAhead | undefined = ahead
  return async (config, digest) => {
    const {landed, configSession} = first ?? {}
    first = undefined
    await Promise.all([registry.pushBlob(config, digest, configSession), landed])
  }
}

async function tagAll(registry: ImageTarget, references: string[], body: Buffer, mediaType: string, digest: string): Promise<void> {
  for (const reference of references) {
    const reported = await registry.putManifest(reference, body, mediaType)
    if (reported && reported !== digest) {
      throw new ModelcarError(`The registry stored the manifest under ${reported}, not ${digest}.`, {code: 'E_REGISTRY_MANIFEST'})
    }
  }
}
