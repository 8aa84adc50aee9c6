// Is an entry already mirrored? One Hub call (the revision's commit sha) and
// one registry read (the target tag's manifest): when the manifest's
// org.opencontainers.image.revision is that sha, there is nothing to push.
import {hubClient, registryClient, type NetworkOptions} from '../clients.js'
import {BlobReader} from '../oci/blob-reader.js'
import {digestOf} from '../oci/digest.js'
import {parseManifest} from '../oci/manifest-parse.js'
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
  const fetched = await reader.manifest(tag)
  if (!fetched) return {sha, tag}
  // A manifest we cannot read is not current: the push replaces it.
  const annotations = parseManifest(fetched.body, fetched.contentType).manifest?.annotations ?? {}
  return annotations[ANNOTATION.revision] === sha ? {sha, tag, currentDigest: fetched.digest ?? digestOf(fetched.body)} : {sha, tag}
}
