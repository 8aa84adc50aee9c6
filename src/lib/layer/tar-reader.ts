// A small streaming tar reader: feed it chunks, it calls back once per entry
// and streams each entry's content to the sink the callback returns. Memory
// stays bounded: only headers and metadata records (PAX, GNU long names, at
// most 1 MiB each) are buffered; content is passed through as slices.
//
// Reads POSIX ustar (with prefix), PAX `x`/`g` records (path, linkpath, size,
// uid, gid, mtime), GNU base-256 numbers and GNU long names (`L`, `K`), and
// old V7 headers. Like Go's archive/tar (what containerd and umoci use), link,
// device, directory and fifo entries carry no content whatever their size
// field says. Anything else it cannot read is a TarFormatError.

const BLOCK = 512
const MAX_META = 1024 * 1024

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other'

export interface TarEntry {
  /** As recorded: PAX path, GNU long name, or ustar prefix + name. Not normalised. */
  path: string
  type: TarEntryType
  /** The raw typeflag ('0', '5', 'S', …). */
  typeflag: string
  mode: number
  uid: number
  gid: number
  /** Content bytes that follow the header (0 for header-only types). */
  size: number
  mtime: number
  linkpath: string
  /** Offset of the entry's (last) header block in the archive. */
  offset: number
  /** GNU sparse file (its content is a sparse map, not the file). */
  sparse: boolean
}

export interface EntrySink {
  data(chunk: Buffer): void
  end(): void
}

export interface TarSummary {
  entries: number
  /** Two zero blocks were found. */
  endMarker: boolean
  /** Bytes after the end-of-archive marker (normally the zero padding of the last record). */
  trailingBytes: number
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TarFormatError'
  }
}

type State = 'header' | 'meta' | 'data' | 'pad' | 'done'

interface Pending {
  pax: Map<string, string>
  longName?: string
  longLink?: string
}

export class TarReader {
  private state: State = 'header'
  private readonly block = Buffer.alloc(BLOCK)
  private blockFill = 0
  /** Bytes left in the current meta record, data, or padding. */
  private remaining = 0
  private padAfter = 0
  private offset = 0
  private zeroBlocks = 0
  private entries = 0
  private trailing = 0
  private meta: {flag: string; chunks: Buffer[]; size: number; offset: number} | undefined
  private sink: EntrySink | undefined
  private readonly global = new Map<string, string>()
  private pending: Pending = {pax: new Map()}
  private failed: TarFormatError | undefined

  constructor(private readonly onEntry: (entry: TarEntry) => EntrySink | void) {}

  write(chunk: Buffer): void {
    if (this.failed) throw this.failed
    try {
      this.consume(chunk)
    } catch (error) {
      if (error instanceof TarFormatError) this.failed = error
      throw error
    }
  }

  /** No more bytes: checks the archive did not stop in the middle of an entry. */
  end(): TarSummary {
    if (this.failed) throw this.failed
    if (this.state === 'meta' || this.state === 'data' || this.state === 'pad' || (this.state === 'header' && this.blockFill > 0)) {
      throw new TarFormatError(`the archive is truncated at byte ${this.offset}`)
    }
    return {entries: this.entries, endMarker: this.state === 'done', trailingBytes: this.trailing}
  }

  private consume(chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      const left = chunk.length - pos
      switch (this.state) {
        case 'done': {
          this.trailing += left
          this.offset += left
          return
        }
        case 'header': {
          const take = Math.min(BLOCK - this.blockFill, left)
          chunk.copy(this.block, this.blockFill, pos, pos + take)
          this.blockFill += take
          pos += take
          this.offset += take
          if (this.blockFill === BLOCK) {
            this.blockFill = 0
            this.onHeader(this.offset - BLOCK)
          }
          break
        }
        default: {
          // meta, data or pad: a stretch of `remaining` bytes
          const take = Math.min(this.remaining, left)
          const piece = chunk.subarray(pos, pos + take)
          if (this.state === 'meta') this.meta!.chunks.push(Buffer.from(piece))
          else if (this.state === 'data') this.sink?.data(piece)
          pos += take
          this.offset += take
          this.remaining -= take
          if (this.remaining === 0) this.endStretch()
          break
        }
      }
    }
  }

  private onHeader(at: number): void {
    const h = this.block
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++
      if (this.zeroBlocks === 2) this.state = 'done'
      return
    }
    this.zeroBlocks = 0
    checkChecksum(h, at)
    const flag = h[156] === 0 ? '\0' : String.fromCharCode(h[156])
    const size = numeric(h, 124, 12, 'size', at)
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw new TarFormatError(`a ${flag} metadata record of ${size} bytes at byte ${at} is larger than ${MAX_META}`)
      this.meta = {flag, chunks: [], size, offset: at}
      this.afterContent(size, 'meta')
      if (size === 0) this.onMetaDone()
      return
    }
    const entry = this.buildEntry(h, flag, size, at)
    this.entries++
    this.pending = {pax: new Map()}
    this.sink = this.onEntry(entry) ?? undefined
    this.afterContent(entry.size, 'data')
    if (entry.size === 0) this.onDataDone()
  }

  /** Set up reading `size` content bytes then padding to the next block. */
  private afterContent(size: number, state: 'meta' | 'data'): void {
    this.remaining = size
    this.padAfter = (BLOCK - (size % BLOCK)) % BLOCK
    this.state = state
  }

  private endStretch(): void {
    if (this.state === 'meta') this.onMetaDone()
    else if (this.state === 'data') this.onDataDone()
    else this.state = 'header'
  }

  private onMetaDone(): void {
    const {flag, chunks, offset} = this.meta!
    const body = Buffer.concat(chunks)
    this.meta = undefined
    if (flag === 'x') for (const [k, v] of parsePax(body, offset)) this.pending.pax.set(k, v)
    else if (flag === 'g') for (const [k, v] of parsePax(body, offset)) this.global.set(k, v)
    else if (flag === 'L') this.pending.longName = cString(body)
    else this.pending.longLink = cString(body)
    this.toPadding()
  }

  private onDataDone(): void {
    const sink = this.sink
    this.sink = undefined
    sink?.end()
    this.toPadding()
  }

  private toPadding(): void {
    this.remaining = this.padAfter
    this.state = this.remaining === 0 ? 'header' : 'pad'
  }

  private buildEntry(h: Buffer, flag: string, size: number, at: number): TarEntry {
    const pax = new Map([...this.global, ...this.pending.pax])
    const magic = h.toString('latin1', 257, 263)
    const posix = magic === 'ustar\0'
    let name = cString(h.subarray(0, 100))
    if (posix) {
      const prefix = cString(h.subarray(345, 500))
      if (prefix !== '') name = `${prefix}/${name}`
    }
    const path = nonEmpty(pax.get('path')) ?? this.pending.longName ?? name
    const linkpath = nonEmpty(pax.get('linkpath')) ?? this.pending.longLink ?? cString(h.subarray(157, 257))
    const paxNumber = (key: string, fallback: number): number => {
      const v = nonEmpty(pax.get(key))
      if (v === undefined) return fallback
      const n = key === 'mtime' ? Number.parseFloat(v) : /^\d+$/.test(v) ? Number(v) : Number.NaN
      if (!Number.isFinite(n) || n < 0 || (key !== 'mtime' && !Number.isSafeInteger(n)))
        throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(v.slice(0, 40))} at byte ${at}`)
      return n
    }
    const sparse = flag === 'S' || pax.has('GNU.sparse.major') || pax.has('GNU.sparse.size') || pax.has('GNU.sparse.map')
    let type = entryType(flag)
    if (flag === '\0' && path.endsWith('/')) type = 'directory' // V7: a directory is a name ending in '/'
    if (sparse) type = 'other'
    const declared = paxNumber('size', size)
    const headerOnly = type !== 'file' && type !== 'other'
    return {
      path,
      type,
      typeflag: flag,
      mode: numeric(h, 100, 8, 'mode', at),
      uid: paxNumber('uid', numeric(h, 108, 8, 'uid', at)),
      gid: paxNumber('gid', numeric(h, 116, 8, 'gid', at)),
      size: headerOnly ? 0 : declared,
      mtime: paxNumber('mtime', numeric(h, 136, 12, 'mtime', at)),
      linkpath,
      offset: at,
      sparse,
    }
  }
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file'
    case '1':
      return 'hardlink'
    case '2':
      return 'symlink'
    case '3':
      return 'char-device'
    case '4':
      return 'block-device'
    case '5':
      return 'directory'
    case '6':
      return 'fifo'
    default:
      return 'other'
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}

/** A NUL-terminated (or full-width) field as UTF-8. */
function cString(field: Buffer): string {
  const nul = field.indexOf(0)
  return field.toString('utf8', 0, nul === -1 ? field.length : nul)
}

/** An octal field (NUL/space padded) or a GNU base-256 one (high bit set). */
function numeric(h: Buffer, offset: number, length: number, what: string, at: number): number {
  const field = h.subarray(offset, offset + length)
  if (field[0] & 0x80) {
    if (field[0] === 0xff) throw new TarFormatError(`negative base-256 ${what} at byte ${at}`)
    let value = BigInt(field[0] & 0x7f)
    for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i])
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`${what} too large at byte ${at}`)
    return Number(value)
  }
  const text = field.toString('latin1').replace(/^[\0 ]+|[\0 ]+$/g, '')
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`invalid ${what} field ${JSON.stringify(text.slice(0, 12))} at byte ${at}`)
  return Number.parseInt(text, 8)
}

function checkChecksum(h: Buffer, at: number): void {
  const bad = new TarFormatError(`bad header checksum at byte ${at} (not a tar archive, or corrupt)`)
  let stored: number
  try {
    stored = numeric(h, 148, 8, 'checksum', at)
  } catch {
    throw bad
  }
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]
    unsigned += b
    signed += b > 127 ? b - 256 : b
  }
  if (stored !== unsigned && stored !== signed) throw bad
}

/** PAX records: "%d key=value\n", the length counting the whole record. */
export function parsePax(body: Buffer, at = 0): Map<string, string> {
  const out = new Map<string, string>()
  let pos = 0
  while (pos < body.length) {
    if (body[pos] === 0) break // some writers pad with NULs
    const space = body.indexOf(0x20, pos)
    const length = space === -1 ? Number.NaN : Number(body.toString('latin1', pos, space))
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > body.length || body[pos + length - 1] !== 0x0a) {
      throw new TarFormatError(`malformed PAX record at byte ${at}`)
    }
    const record = body.subarray(space + 1, pos + length - 1)
    const eq = record.indexOf(0x3d)
    if (eq <= 0) throw new TarFormatError(`malformed PAX record at byte ${at}`)
    out.set(record.toString('utf8', 0, eq), record.toString('utf8', eq + 1))
    pos += length
  }
  return out
}
