// --include / --exclude with the semantics of `hf download`: Python fnmatch,
// where `*` also matches `/`, and a pattern ending in `/` means "everything
// under that folder".

export function fnmatchToRegExp(pattern: string): RegExp {
  if (pattern.endsWith('/')) pattern += '*'
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') out += '.*'
    else if (c === '?') out += '.'
    else if (c === '[') {
      const close = pattern.indexOf(']', pattern[i + 1] === '!' || pattern[i + 1] === ']' ? i + 2 : i + 1)
      if (close === -1) {
        out += '\\['
        continue
      }
      let body = pattern.slice(i + 1, close)
      const negate = body.startsWith('!')
      if (negate) body = body.slice(1)
      out += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/^\^/, '\\^')}]`
      i = close
    } else out += c.replace(/[.+^${}()|\\/]/g, '\\$&')
  }
  return new RegExp(`^${out}$`, 's')
}

export function fileFilter(include: string[], exclude: string[]): (path: string) => boolean {
  const inc = include.map(fnmatchToRegExp)
  const exc = exclude.map(fnmatchToRegExp)
  return (path) => (inc.length === 0 || inc.some((r) => r.test(path))) && !exc.some((r) => r.test(path))
}
