// oci:DIR as the user names a layout: --to oci:DIR for push, oci:DIR:tag or
// oci:DIR@digest for verify and ls (skopeo's syntax).
import {resolve} from 'node:path'
import {UsageError} from '../errors.js'
import {validateDigest, validateTag, type ImageReference, type ParsedRegistry} from './reference.js'

/**
 * `oci:DIR` (--to) → the absolute DIR. No tag here (--target-tag names it), and
 * no ':' in DIR: skopeo reads `oci:DIR:tag`, which such a path would make ambiguous.
 */
export function parseLayoutTarget(text: string): string {
  const m = /^oci:(.+)$/.exec(text.trim())
  if (!m) throw new UsageError(`--to ${JSON.stringify(text)} is not oci:DIR: e.g. --to oci:./qwen3-layout (an OCI image layout directory).`)
  if (m[1].includes(':'))
    throw new UsageError(`--to ${JSON.stringify(text)}: the directory may not contain ':' (skopeo reads oci:DIR:tag); pick another path.`)
  return resolve(m[1])
}

/**
 * `oci:DIR:TAG` or `oci:DIR@sha256:…` (verify, ls) as an image reference;
 * undefined when `text` does not start with oci:.
 */
export function parseLayoutReference(text: string): ImageReference | undefined {
  const raw = text.trim()
  if (!raw.startsWith('oci:')) return undefined
  const body = raw.slice('oci:'.length)
  const at = body.indexOf('@')
  const colon = body.indexOf(':')
  if (at === -1 && colon === -1)
    throw new UsageError(
      `${JSON.stringify(raw)} names no tag or digest: add one, e.g. ${JSON.stringify(`${raw}:latest`)} or oci:DIR@sha256:<digest>.`,
    )
  const dir = body.slice(0, at === -1 ? colon : at)
  if (dir === '') throw new UsageError(`${JSON.stringify(raw)} names no directory: e.g. oci:./model-layout:latest.`)
  const layout = resolve(dir)
  const where = {registry: layoutEndpoint(layout), repository: '', layout}
  return at === -1
    ? {...where, tag: validateTag(body.slice(colon + 1), 'tag')}
    : {...where, digest: validateDigest(body.slice(at + 1), 'digest')}
}

/** The registry fields of a layout push: the run record, the push key and the blob history name it oci:DIR. */
export function layoutEndpoint(dir: string): ParsedRegistry {
  return {host: 'oci-layout', scheme: 'https', baseUrl: `oci:${dir}`, display: `oci:${dir}`}
}
