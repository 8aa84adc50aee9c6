// An image built on a base (--base-image) carries the base's layers below
// the model's: their files live outside models/ by design, so the tar
// hygiene of modelcar layers does not apply to them. They are still checked
// for presence, digest, size and diff_id like every blob.
import {ANNOTATION, type ParsedManifest} from '../oci/types.js'
import type {BlobReport} from './types.js'

const NOTE = "base image layer: files outside models/ are the base's (tar hygiene not checked)"

/** Turns the hygiene problems of a based image's base layers into a note. */
export function excuseBaseLayers(manifest: Extract<ParsedManifest, {kind: 'manifest'}>, reports: BlobReport[]): void {
  // Only modelcar's own based images: another tool's image keeps every check.
  if (manifest.annotations[ANNOTATION.baseDigest] === undefined || manifest.annotations[ANNOTATION.hfRepo] === undefined) return
  const base = new Set(manifest.layers.filter((d) => d.annotations[ANNOTATION.contentSha256] === undefined).map((d) => d.digest))
  for (const r of reports) {
    if (r.kind !== 'layer' || !base.has(r.digest)) continue
    const kept = r.problems.filter((p) => p.kind !== 'hygiene')
    if (kept.length === r.problems.length) continue
    r.problems = kept
    r.notes.push(NOTE)
  }
}
