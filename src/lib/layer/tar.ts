// Deterministic framing of a single-file tar layer: `models/<path>` plus its
// parent directories. Only the bytes before and after the file's content are
// built here; the caller streams the content itself. Equal inputs give equal
// bytes (uid/gid 0, mtime 0, no user names), so equal files give equal layer
// digests and registries can dedupe them across images.

export const MODELS_DIR = 'models'

const BLOCK = 512
const END_OF_ARCHIVE = 2 * BLOCK
// The ustar size field holds 11 octal digits: anything from 8 GiB up does not fit.
const MAX_OCTAL_SIZE = 8 ** 11 - 1

/** Every byte of the layer that comes before the file's content. */
export function layerHeader(repoPath: string, fileSize: number): Buffer {
  checkSize(fileSize)
  const dirs = checkPath(repoPath)
  const blocks: Buffer[] = []
  // models/, models/a/, models/a/b/ so every extractor creates them 0755.
  for (let i = 0; i <= dirs.length; i++) {
    blocks.push(...entry([MODELS_DIR, ...dirs.slice(0, i)].join('/') + '/', '5', 0o755, 0))
  }
  blocks.push(...entry(`${MODELS_DIR}/${repoPath}`, '0', 0o644, fileSize))
  return Buffer.concat(blocks)
}

/** Every byte after the content: zero padding to 512, then two zero blocks. */
export function layerTrailer(fileSize: number): Buffer {
  checkSize(fileSize)
  return Buffer.alloc(padding(fileSize) + END_OF_ARCHIVE)
}

/** Total layer length in bytes, computed before any byte moves: header + size + trailer. */
export function layerSize(repoPath: string, fileSize: number): number {
  return layerHeader(repoPath, fileSize).length + fileSize + padding(fileSize) + END_OF_ARCHIVE
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new Error(`tar layer: file size must be a non-negative safe integer, got ${size}`)
  }
}

/**
 * The parent directories' segments of a safe path; throws on an unsafe one.
 * Callers validate repo paths earlier: this is defence in depth against
 * entries that would escape models/ or could not be written faithfully.
 */
function checkPath(repoPath: string): string[] {
  const segments = repoPath.split('/')
  const bad =
    repoPath === '' ||
    repoPath.includes('\0') ||
    Buffer.from(repoPath, 'utf8').toString('utf8') !== repoPath || // lone surrogates
    segments.some((s) => s === '' || s === '.' || s === '..') // absolute, //, trailing /, . and ..
  if (bad) throw new Error(`tar layer: unsafe repo path ${JSON.stringify(repoPath)}`)
  return segments.slice(0, -1)
}

/** One entry's header block, preceded by a PAX header when the name needs one. */
function entry(name: string, type: '0' | '5', mode: number, size: number): Buffer[] {
  const bytes = Buffer.from(name, 'utf8')
  // ustar names are 100 bytes with no defined charset: readers disagree on
  // non-ASCII bytes, so long or non-ASCII names travel as a UTF-8 PAX `path`
  // and the ustar field keeps a plain ASCII stand-in for PAX-unaware readers.
  if (bytes.length <= 100 && isAscii(bytes)) return [header(bytes, type, mode, size)]
  const record = paxRecord('path', bytes)
  const base = asciiFold(name.replace(/\/$/, '').split('/').pop()!).subarray(0, 87)
  return [
    header(Buffer.from(`PaxHeaders.0/${base.toString('ascii')}`), 'x', 0o644, record.length),
    record,
    Buffer.alloc(padding(record.length)),
    header(fallbackName(name, type === '5'), type, mode, size),
  ]
}

/** `"%d key=value\n"` where %d counts the whole record, its own digits included (exported for tests). */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = 1 + key.length + 1 + value.length + 1 // ' ' key '=' value '\n'
  let length = rest + 1
  while (String(length).length + rest !== length) length = String(length).length + rest
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')])
}

function isAscii(bytes: Buffer): boolean {
  return bytes.every((b) => b < 0x80)
}

/** Each non-ASCII character becomes '_'. */
function asciiFold(s: string): Buffer {
  return Buffer.from(s.replace(/[^\x00-\x7f]/gu, '_'), 'ascii')
}

/** ASCII stand-in for the ustar name field: folded, cut to 100, still a dir iff it is one. */
function fallbackName(name: string, isDir: boolean): Buffer {
  const folded = asciiFold(name)
  if (folded.length <= 100) return folded
  const cut = Buffer.from(folded.subarray(0, isDir ? 99 : 100))
  if (isDir) return Buffer.concat([cut, Buffer.from('/')])
  if (cut[99] === 0x2f) cut[99] = 0x5f // a file must not look like a directory
  return cut
}

/** One 512-byte POSIX ustar header block. */
function header(name: Buffer, type: string, mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK)
  name.copy(h, 0, 0, 100)
  octal(h, 100, 8, mode)
  octal(h, 108, 8, 0) // uid
  octal(h, 116, 8, 0) // gid
  if (size <= MAX_OCTAL_SIZE) {
    octal(h, 124, 12, size)
  } else {
    // GNU base-256: 0x80 then the size big-endian. Not a PAX `size` record,
    // which some registry scanners mis-read; GNU tar and Go's archive/tar
    // (umoci, containerd) read base-256 (see the tests).
    h[124] = 0x80
    h.writeBigUInt64BE(BigInt(size), 128)
  }
  octal(h, 136, 12, 0) // mtime
  h.write(type, 156, 'ascii')
  h.write('ustar\0', 257, 'ascii')
  h.write('00', 263, 'ascii')
  octal(h, 329, 8, 0) // devmajor
  octal(h, 337, 8, 0) // devminor
  // Checksum: sum of all bytes with the field itself as spaces, written as
  // six octal digits, NUL, space (as GNU tar does).
  h.fill(0x20, 148, 156)
  const sum = h.reduce((a, b) => a + b, 0)
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  return h
}

/** Zero-padded octal digits filling the field, then a NUL. */
function octal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, 'ascii')
}
