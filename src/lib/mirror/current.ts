// Is an entry already mirrored? One Hub call (the revision's commit sha) and
// one registry read (the target tag's manifest): when the manifest's
// org.opencontainers.image.revision is that sha, there is nothing to push.
import {hubClient, registryClient, type NetworkOptions} from '../clients.js'
import {ModelcarError} from '../errors.js'
import {readManifest} from '../inspect/files.js'
import {BlobReader} from '../oci/blob-reader.js'
import {ANNOTATION} from '../oci/types.js'
import type {PushParams} from '../push/plan.js'

export interface TargetState {
  sha: string
  tag: string
  /** The manifest digest when the tag already holds this commit. */
  currentDigest?: string
}

export async function targetState(params: PushParams, net: NetworkOptions): Promise<TargetState> {
  const sha = await hubClient(net).resolveRevision(params.hfRepo, params.revision)
  const tag = params.targetTag ?? sha.slice(0, 12)
  const reader = new BlobReader(await registryClient(params.registry, params.targetRepo, net))
  // No manifest, or one we cannot read, is not current: the push replaces it.
  const read = await readManifest(reader, tag, tag).catch((error: unknown) => {
    if (error instanceof ModelcarError && (error.code === 'E_NO_MANIFEST' || error.code === 'E_MANIFEST_MALFORMED')) return undefined
    throw error
  })
  return read?.manifest.annotations?.[ANNOTATION.revision] === sha ? {sha, tag, currentDigest: read.digest} : {sha, tag}
}
