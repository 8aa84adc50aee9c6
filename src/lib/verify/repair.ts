// The command that repairs a broken or missing blob, rebuilt from what the
// image says about itself: a push of the same Hub commit, files and target
// uploads again every blob the registry no longer has, and writes the same
// manifest (the layers are deterministic). A registry that keeps damaged bytes
// under a digest must drop them first: a push skips a blob it already has.
import {hfRepoProblem, hfRevisionProblem} from '../hf/repo.js'
import {isLoopbackHost, type ImageReference} from '../oci/reference.js'
import {ANNOTATION, type Descriptor} from '../oci/types.js'
import type {BlobReport} from './types.js'

/** `modelcar push …` that rebuilds this image, or undefined when the image does not say enough (not pushed by modelcar). */
export function pushCommand(ref: ImageReference, annotations: Record<string, string>, layers: Descriptor[]): string | undefined {
  const repo = annotations[ANNOTATION.hfRepo]
  const revision = annotations[ANNOTATION.revision]
  if (repo === undefined || revision === undefined || hfRepoProblem(repo) || hfRevisionProblem(revision)) return undefined
  const titles = layers.map((l) => l.annotations[ANNOTATION.title])
  if (titles.length === 0 || titles.some((t) => t === undefined || t === '')) return undefined
  const scheme = ref.registry.scheme === 'http' && !isLoopbackHost(ref.registry.host) ? 'http://' : ''
  const target = ref.layout
    ? ['--to', `oci:${ref.layout}`]
    : ['--registry', `${scheme}${ref.registry.display}`, '--target-repo', ref.repository]
  const args = ['modelcar', 'push', '--hf-repo', repo, '--hf-revision', revision, ...target, ...(ref.tag ? ['--target-tag', ref.tag] : [])]
  // Exactly these files: a push of the whole commit would tag a different image.
  for (const t of titles) args.push('--include', escapeGlob(t))
  return args.map(shellQuote).join(' ')
}

/** What to do about one blob, when it is missing or its bytes are wrong. */
export function repairFor(b: BlobReport, command: string | undefined, layout?: string): string | undefined {
  if (b.kind === 'index') return undefined
  if (b.result === 'missing') return command ? `push again: ${command}` : 'push the image again from its source'
  if (b.result === 'digest mismatch' || b.result === 'size mismatch' || b.result === 'content mismatch') {
    // A push skips a blob that is there: damaged bytes must go first.
    const drop =
      b.kind === 'manifest'
        ? ''
        : layout
          ? `delete ${layout}/blobs/${b.digest.replace(':', '/')}, then `
          : 'delete the blob and garbage-collect the registry (it keeps the bytes it has under a digest), then '
    return command ? `${drop}push again: ${command}` : `${drop}push the image again from its source`
  }
  return undefined
}

/** An fnmatch pattern matching exactly `path`: * ? [ stand for themselves. */
export function escapeGlob(path: string): string {
  return path.replace(/[*?[]/g, (c) => `[${c}]`)
}

/** A POSIX shell word: bare when safe, otherwise single-quoted. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}
