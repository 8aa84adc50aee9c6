// Repo paths come from the network: refuse anything that could escape
// models/ or make two files land on one path, before a byte is uploaded.
import {UsageError} from '../errors.js'

// Every Unicode control character, C1 included (some terminals honour them).
const CONTROL = /\p{Cc}/u
// A lone UTF-16 surrogate cannot be written as UTF-8 in a tar header.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

// Invisible characters that change how a name reads: bidi controls, zero-width
// characters, soft hyphens (Unicode's "format" category).
const INVISIBLE = /\p{Cf}/gu

/** A path quoted for a terminal: control and invisible characters escaped, C1 included (U+009B is CSI). */
export function quotePath(path: string): string {
  return JSON.stringify(path).replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * Names a person could misread: invisible or bidi characters, and names
 * that look like another file's once those are dropped and compatibility
 * forms folded (NFKC). Pushed all the same, but said in the plan.
 */
export function confusableNames(paths: string[]): string[] {
  const warnings: string[] = []
  const looks = new Map<string, string>()
  for (const path of paths) {
    const invisible = path.match(INVISIBLE)
    if (invisible) {
      const codes = [...new Set(invisible)].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(', ')
      warnings.push(`${quotePath(path)} contains invisible or bidi characters (${codes}): its name does not read as it is`)
    }
    const key = path.replace(INVISIBLE, '').normalize('NFKC')
    const twin = looks.get(key)
    if (twin !== undefined) warnings.push(`${quotePath(path)} looks the same as ${quotePath(twin)}`)
    else looks.set(key, path)
  }
  return warnings
}

/** Why `path` is not safe to unpack under /models/, or undefined when it is. */
export function unsafePathReason(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'empty'
  if (CONTROL.test(path)) return 'control character'
  if (LONE_SURROGATE.test(path)) return 'invalid Unicode'
  if (path.includes('\\')) return 'backslash'
  if (path.startsWith('/')) return 'absolute'
  if (Buffer.byteLength(path) > 4096) return 'longer than 4096 bytes'
  const segment = path.split('/').find((s) => s === '' || s === '.' || s === '..')
  return segment === undefined ? undefined : `segment "${segment}"`
}

export function checkRepoPath(path: string): void {
  const why = unsafePathReason(path)
  if (why !== undefined)
    throw new UsageError(
      `The Hub listed an unsafe file path ${quotePath(path)} (${why}); refusing to push this repo. Check HF_ENDPOINT points at a trustworthy Hub.`,
      'E_UNSAFE_PATH',
    )
}

/**
 * Validate every path and refuse duplicates, names that collide once
 * normalised (Unicode NFC), and a file that is also another file's folder
 * (`a` and `a/b`): one of them would vanish when the image is unpacked.
 */
export function checkRepoPaths(paths: string[]): void {
  const seen = new Map<string, string>()
  const refuse = (path: string, why: string) =>
    new UsageError(
      `The Hub listed file ${quotePath(path)} that ${why}; refusing to push this repo. Check HF_ENDPOINT points at a trustworthy Hub.`,
      'E_UNSAFE_PATH',
    )
  for (const path of paths) {
    checkRepoPath(path)
    const key = path.normalize('NFC')
    const other = seen.get(key)
    if (other !== undefined) throw refuse(path, other === path ? 'listed twice' : `collides with ${quotePath(other)}`)
    seen.set(key, path)
  }
  for (const [key, path] of seen) {
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      const folder = seen.get(key.slice(0, slash))
      if (folder !== undefined) throw refuse(path, `lies inside ${quotePath(folder)}, which is also a file`)
    }
  }
}
