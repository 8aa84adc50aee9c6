// Repo paths come from the network: refuse anything that could escape
// models/ or make two files land on one path, before a byte is uploaded.
import {UsageError} from '../errors.js'

// Every Unicode control character, C1 included (some terminals honour them).
const CONTROL = /\p{Cc}/u
// A lone UTF-16 surrogate cannot be written as UTF-8 in a tar header.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function checkRepoPath(path: string): void {
  const bad = (why: string) =>
    new UsageError(`The Hub listed an unsafe file path ${JSON.stringify(path)} (${why}); refusing to push this repo. Check HF_ENDPOINT points at a trustworthy Hub.`, 'E_UNSAFE_PATH')
  if (typeof path !== 'string' || path.length === 0) throw bad('empty')
  if (CONTROL.test(path)) throw bad('control character')
  if (LONE_SURROGATE.test(path)) throw bad('invalid Unicode')
  if (path.includes('\\')) throw bad('backslash')
  if (path.startsWith('/')) throw bad('absolute')
  if (Buffer.byteLength(path) > 4096) throw bad('longer than 4096 bytes')
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw bad(`segment "${segment}"`)
  }
}

/** Validate every path and refuse duplicates and names that collide once normalised (Unicode NFC). */
export function checkRepoPaths(paths: string[]): void {
  const seen = new Map<string, string>()
  for (const path of paths) {
    checkRepoPath(path)
    const key = path.normalize('NFC')
    const other = seen.get(key)
    if (other !== undefined) {
      const why = other === path ? 'listed twice' : `collides with ${JSON.stringify(other)}`
      throw new UsageError(`The Hub listed file ${JSON.stringify(path)} that ${why}; refusing to push this repo. Check HF_ENDPOINT points at a trustworthy Hub.`, 'E_UNSAFE_PATH')
    }
    seen.set(key, path)
  }
}
