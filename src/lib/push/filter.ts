// --include / --exclude with the semantics of `hf download`: Python fnmatch,
// where `*` also matches `/`, and a pattern ending in `/` means "everything
// under that folder". Matched by a small linear-time matcher rather than a
// RegExp: `*a*a*a*b` against a 4096-byte path must not backtrack for minutes.

type Token =
  | {kind: 'char'; char: string}
  | {kind: 'any'}
  | {kind: 'star'}
  | {kind: 'class'; negate: boolean; singles: Set<string>; ranges: Array<[string, string]>}

/** Parse a pattern as Python's fnmatch.translate reads it. */
export function parsePattern(pattern: string): Token[] {
  if (pattern.endsWith('/')) pattern += '*'
  const chars = [...pattern]
  const tokens: Token[] = []
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({kind: 'star'})
    } else if (c === '?') {
      tokens.push({kind: 'any'})
    } else if (c === '[') {
      let j = i + 1
      if (chars[j] === '!') j++
      if (chars[j] === ']') j++
      while (j < chars.length && chars[j] !== ']') j++
      if (j >= chars.length) {
        tokens.push({kind: 'char', char: '['})
        continue
      }
      let body = chars.slice(i + 1, j)
      const negate = body[0] === '!'
      if (negate) body = body.slice(1)
      const singles = new Set<string>()
      const ranges: Array<[string, string]> = []
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-' && k + 2 < body.length) {
          // A reversed range (z-a) is empty in Python, never an error.
          if (body[k] <= body[k + 2]) ranges.push([body[k], body[k + 2]])
          k += 2
        } else {
          singles.add(body[k])
        }
      }
      tokens.push({kind: 'class', negate, singles, ranges})
      i = j
    } else {
      tokens.push({kind: 'char', char: c})
    }
  }
  return tokens
}

function matchOne(token: Token, c: string): boolean {
  switch (token.kind) {
    case 'char':
      return token.char === c
    case 'any':
      return true
    case 'class': {
      const hit = token.singles.has(c) || token.ranges.some(([a, b]) => a <= c && c <= b)
      return hit !== token.negate
    }
    default:
      return false
  }
}

/** Greedy match with backtracking to the last star only: O(pattern × path) at worst. */
export function fnmatch(tokens: Token[], path: string): boolean {
  const s = [...path]
  let p = 0
  let i = 0
  let starP = -1
  let starI = 0
  while (i < s.length) {
    if (p < tokens.length && tokens[p].kind === 'star') {
      starP = p++
      starI = i
    } else if (p < tokens.length && matchOne(tokens[p], s[i])) {
      p++
      i++
    } else if (starP !== -1) {
      p = starP + 1
      i = ++starI
    } else {
      return false
    }
  }
  while (p < tokens.length && tokens[p].kind === 'star') p++
  return p === tokens.length
}

export function fileFilter(include: string[], exclude: string[]): (path: string) => boolean {
  const inc = include.map(parsePattern)
  const exc = exclude.map(parsePattern)
  return (path) => (inc.length === 0 || inc.some((t) => fnmatch(t, path))) && !exc.some((t) => fnmatch(t, path))
}

/** One pattern against one path (tests, and verify's file lists). */
export function matches(pattern: string, path: string): boolean {
  return fnmatch(parsePattern(pattern), path)
}
