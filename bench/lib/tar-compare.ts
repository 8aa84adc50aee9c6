// Make "the baseline's layer digest differs from modelcar's" informative: parse the tar headers at the start of
// both layers and say which entries and which header fields differ.

export interface TarEntry {
  type: string
  name: string
  fields: Record<string, string>
  pax?: Record<string, string>
}

const FIELDS: Array<[string, number, number]> = [
  ['name', 0, 100],
  ['mode', 100, 8],
  ['uid', 108, 8],
  ['gid', 116, 8],
  ['size', 124, 12],
  ['mtime', 136, 12],
  ['chksum', 148, 8],
  ['typeflag', 156, 1],
  ['linkname', 157, 100],
  ['magic', 257, 6],
  ['version', 263, 2],
  ['uname', 265, 32],
  ['gname', 297, 32],
  ['devmajor', 329, 8],
  ['devminor', 337, 8],
  ['prefix', 345, 155],
]

/** Field text with NULs made visible, trailing NUL padding folded ("0000644\0" stays distinct from "0000644 "). */
function show(raw: Buffer): string {
  let end = raw.length
  while (end > 0 && raw[end - 1] === 0) end--
  const pad = raw.length - end
  const body = raw.subarray(0, end).toString('latin1').replace(/\0/g, '\\0')
  return pad === 0 ? body : pad === raw.length ? '' : `${body}\\0${pad > 1 ? `×${pad}` : ''}`
}

function octalSize(field: Buffer): number {
  if (field[0] & 0x80) {
    // GNU base-256
    let n = 0
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]
    return n
  }
  return parseInt(field.toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8)
}

/**
 * Entries from the start of a tar stream up to and including the first regular file (whose content follows and is
 * not in `prefix`). PAX records are attached to the entry they describe.
 */
export function parseTarPrefix(prefix: Buffer): TarEntry[] {
  const entries: TarEntry[] = []
  let off = 0
  let pendingPax: Record<string, string> | undefined
  while (off + 512 <= prefix.length) {
    const h = prefix.subarray(off, off + 512)
    if (h.every((b) => b === 0)) break
    const fields: Record<string, string> = {}
    for (const [name, start, len] of FIELDS) fields[name] = show(h.subarray(start, start + len))
    const type = String.fromCharCode(h[156] || 0x30)
    const size = octalSize(h.subarray(124, 136))
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
    off += 512
    if (type === 'x' || type === 'g') {
      const body = prefix.subarray(off, off + size).toString('utf8')
      const pax: Record<string, string> = {}
      for (let i = 0; i < body.length;) {
        const sp = body.indexOf(' ', i)
        const len = Number(body.slice(i, sp))
        if (!len) break
        const rec = body.slice(sp + 1, i + len - 1)
        const eq = rec.indexOf('=')
        pax[rec.slice(0, eq)] = rec.slice(eq + 1)
        i += len
      }
      entries.push({type, name, fields})
      if (type === 'x') pendingPax = pax
      off += Math.ceil(size / 512) * 512
      continue
    }
    entries.push({type, name: pendingPax?.path ?? name, fields, pax: pendingPax})
    pendingPax = undefined
    if (type === '0' || type === '\0') break
    off += Math.ceil(size / 512) * 512
  }
  return entries
}

function label(e: TarEntry): string {
  if (e.type === 'x') return `PAX header "${e.name}"`
  return `${e.type === '5' ? 'dir' : e.type === '0' ? 'file' : `type ${e.type}`} ${e.name}`
}

/** A few lines saying how baseline's tar differs from modelcar's (empty when the headers are byte-identical). */
export function describeDifference(
  baseline: TarEntry[],
  modelcar: TarEntry[],
  sizes: {baseline: number; modelcar: number; content: number},
): string[] {
  const out: string[] = []
  const b = baseline.map(label)
  const m = modelcar.map(label)
  if (b.join('|') !== m.join('|')) {
    out.push(`entries: baseline [${b.join(', ')}] vs modelcar [${m.join(', ')}]`)
  }
  for (const e of baseline) {
    if (e.pax)
      out.push(
        `baseline PAX records for ${e.name}: ${Object.entries(e.pax)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      )
  }
  for (const e of modelcar) {
    if (e.pax)
      out.push(
        `modelcar PAX records for ${e.name}: ${Object.entries(e.pax)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      )
  }
  const bf = baseline.find((e) => e.type === '0')
  const mf = modelcar.find((e) => e.type === '0')
  if (bf && mf) {
    const diffs = Object.keys(bf.fields).filter((k) => k !== 'chksum' && bf.fields[k] !== mf.fields[k])
    if (diffs.length > 0)
      out.push(`file header fields differ: ${diffs.map((k) => `${k} "${bf.fields[k]}" vs "${mf.fields[k]}"`).join('; ')}`)
  }
  const tail = (layer: number) => layer - sizes.content
  if (sizes.baseline !== sizes.modelcar) {
    out.push(
      `framing bytes around the content: baseline ${tail(sizes.baseline)} (GNU tar pads the archive to 10240-byte records) vs modelcar ${tail(sizes.modelcar)}`,
    )
  }
  return out
}
