// Tar hygiene for model layers: what an extractor would write must stay under
// models/, be a plain file (0644) or directory (0755), and links must not
// point outside models/. Returns one message per problem, naming the entry.
import {posix} from 'node:path'
import {MODELS_DIR} from '../layer/tar.js'
import type {TarEntry} from '../layer/tar-reader.js'

const FILE_MODE = 0o644
const DIR_MODE = 0o755

export function entryProblems(e: TarEntry): string[] {
  const problems: string[] = []
  const shown = JSON.stringify(e.path)
  const path = stripDotSlash(e.path)
  if (e.path.startsWith('/')) problems.push(`${shown} is an absolute path`)
  else if (path.split('/').includes('..')) problems.push(`${shown} climbs out with ".."`)
  else if (path === '' || path === '.') {
    if (e.type !== 'directory') problems.push(`${shown} is not a directory`)
    return problems // the archive root: "./"
  } else if (!isUnderModels(path)) problems.push(`${shown} is outside ${MODELS_DIR}/`)
  if (posix.basename(path).startsWith('.wh.')) problems.push(`${shown} is a whiteout`)

  const mode = e.mode & 0o7777
  switch (e.type) {
    case 'file':
      if (mode !== FILE_MODE) problems.push(`${shown} has mode ${octal(mode)}, not 0644`)
      break
    case 'directory':
      if (mode !== DIR_MODE) problems.push(`${shown} has mode ${octal(mode)}, not 0755`)
      break
    case 'symlink': {
      const target = e.linkpath.startsWith('/') ? undefined : posix.normalize(posix.join(posix.dirname(path), e.linkpath))
      if (target === undefined || !isUnderModels(target))
        problems.push(`symlink ${shown} → ${JSON.stringify(e.linkpath)} points outside ${MODELS_DIR}/`)
      break
    }
    case 'hardlink': {
      const target = stripDotSlash(e.linkpath)
      if (e.linkpath.startsWith('/') || target.split('/').includes('..') || !isUnderModels(target)) {
        problems.push(`hardlink ${shown} → ${JSON.stringify(e.linkpath)} points outside ${MODELS_DIR}/`)
      }
      break
    }
    default:
      problems.push(
        e.sparse
          ? `${shown} is a sparse file`
          : `${shown} is a ${e.type === 'other' ? `type ${JSON.stringify(e.typeflag)}` : e.type} entry`,
      )
  }
  return problems
}

export function stripDotSlash(path: string): string {
  let p = path
  while (p.startsWith('./')) p = p.slice(2)
  return p.replace(/\/+$/, '')
}

function isUnderModels(path: string): boolean {
  return path === MODELS_DIR || path.startsWith(`${MODELS_DIR}/`)
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}
