// --deep, one blob: hash the bytes as stored (the digest), and for tar layers
// decompress if needed (hashing the tar: the diff_id), read the tar, hash each
// regular file and check each entry's hygiene. Streams with backpressure: the
// memory used is a few chunks whatever the blob size.
import {createHash, type Hash} from 'node:crypto'
import type {EventEmitter} from 'node:events'
import {createGunzip, type Gunzip} from 'node:zlib'
import {createSha256, updateBoth, type Sha256} from '../hash/sha256.js'
import {TarFormatError, TarReader, type TarEntry} from '../layer/tar-reader.js'
import {TAR_LAYER_TYPES} from '../oci/types.js'
import {entryProblems, stripDotSlash} from './hygiene.js'
import type {ScannedFile} from './types.js'

export type Compression = 'none' | 'gzip' | 'zstd'

/** Files up to this size also get a git blob id (the Hub's oid of non-LFS files). */
const GIT_OID_MAX = 16 * 1024 * 1024
const MAX_HYGIENE = 20

export interface LayerScan {
  /** sha256 of the bytes as stored. */
  digest: string
  size: number
  /** sha256 of the uncompressed tar (set when the tar was read to the end). */
  diffId?: string
  files: ScannedFile[]
  entries: number
  hygiene: string[]
  /** Hygiene problems beyond those listed. */
  hygieneMore: number
  /** The tar (or its compression) could not be read. */
  tarError?: string
  /** Why the tar was not read at all. */
  notRead?: string
}

/** How a layer media type is compressed, or undefined when it is not a tar layer. */
export function layerCompression(mediaType: string): Compression | undefined {
  const m = /^(.*?)(?:\+(gzip|zstd)|\.(gzip|zstd))?$/.exec(mediaType)!
  if (!TAR_LAYER_TYPES.has(m[1])) return undefined
  return (m[2] ?? m[3] ?? 'none') as Compression
}

export async function scanBlob(
  chunks: AsyncIterable<Buffer>,
  compression: Compression | undefined,
  algorithm = 'sha256',
  onBytes?: (n: number) => void,
): Promise<LayerScan> {
  const alg = algorithm === 'sha512' ? 'sha512' : 'sha256'
  // An uncompressed layer's tar is the stored bytes: with a sha256 digest its diff_id is that digest, not a third
  // SHA-256 pass over every byte (a third of --deep's hashing of a modelcar image). The tar side then feeds the
  // digest too, so each file's content goes through both hashes in one interleaved pass, as a push hashes it.
  const diffIsDigest = compression === 'none' && alg === 'sha256'
  const shared = diffIsDigest ? createSha256() : undefined
  const stored = shared ? undefined : createHash(alg)
  const tar = compression === undefined || compression === 'zstd' ? undefined : new TarScan(compression, shared)
  let size = 0
  for await (const chunk of chunks) {
    stored?.update(chunk)
    size += chunk.length
    onBytes?.(chunk.length)
    if (tar) await tar.write(chunk) // an uncompressed layer always has its tar side: it feeds `shared`
  }
  const digest = shared ? shared.hex() : stored!.digest('hex')
  const scan: LayerScan = {digest: `${alg}:${digest}`, size, files: [], entries: 0, hygiene: [], hygieneMore: 0}
  if (compression === 'zstd') scan.notRead = 'zstd layers are not decompressed: digest and size checked only'
  if (tar) Object.assign(scan, await tar.end())
  if (diffIsDigest && !scan.tarError) scan.diffId = scan.digest
  return scan
}

/** The tar side of a scan. Never throws: a broken tar is recorded and the rest of the blob is only hashed. */
class TarScan {
  /** sha256 of the tar, when it is not the stored bytes' digest. */
  private readonly diff: Hash | undefined
  private readonly reader: TarReader
  private readonly gunzip: Gunzip | undefined
  private readonly files: ScannedFile[] = []
  private readonly hygiene: string[] = []
  private hygieneMore = 0
  private error: string | undefined
  private entries = 0
  /** The chunk being read, and how much of it `stored` has taken (in order, every byte once). */
  private chunk: Buffer | undefined
  private storedTo = 0

  /** `stored`: an uncompressed layer's digest (then also its diff_id), fed here so file content can share its pass. */
  constructor(
    compression: 'none' | 'gzip',
    private readonly stored?: Sha256,
  ) {
    this.diff = stored ? undefined : createHash('sha256')
    this.reader = new TarReader((entry) => this.onEntry(entry))
    if (compression === 'gzip') {
      this.gunzip = createGunzip()
      this.gunzip.on('data', (data: Buffer) => this.feed(data))
      this.gunzip.on('error', (error) => this.fail(`gzip: ${error.message}`))
    }
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.stored) {
      this.chunk = chunk
      this.storedTo = 0
      this.feed(chunk) // content slices reach `stored` through fileData()
      this.stored.update(chunk.subarray(this.storedTo))
      this.chunk = undefined
      return
    }
    if (this.error) return
    if (!this.gunzip) return this.feed(chunk)
    if (!this.gunzip.write(chunk) && !this.error) await settled(this.gunzip, 'drain')
  }

  async end(): Promise<Partial<LayerScan>> {
    if (this.gunzip && !this.error) {
      const done = settled(this.gunzip, 'end')
      this.gunzip.end()
      await done
    }
    if (!this.error) {
      try {
        const summary = this.reader.end()
        if (!summary.endMarker) this.addHygiene('the tar has no end-of-archive marker')
        this.entries = summary.entries
      } catch (error) {
        this.fail(tarMessage(error))
      }
    }
    return {
      files: this.files,
      entries: this.entries,
      hygiene: this.hygiene,
      hygieneMore: this.hygieneMore,
      ...(this.error ? {tarError: this.error} : this.diff ? {diffId: `sha256:${this.diff.digest('hex')}`} : {}),
    }
  }

  private feed(data: Buffer): void {
    if (this.error) return
    this.diff?.update(data)
    try {
      this.reader.write(data)
    } catch (error) {
      this.fail(tarMessage(error))
    }
  }

  private fail(message: string): void {
    if (this.error) return
    this.error = message
    this.gunzip?.removeAllListeners('data')
    this.gunzip?.resume()
  }

  private onEntry(entry: TarEntry) {
    for (const p of entryProblems(entry)) this.addHygiene(p)
    if (entry.type !== 'file') return
    const sha = createSha256()
    const git: Hash | undefined = entry.size <= GIT_OID_MAX ? createHash('sha1').update(`blob ${entry.size}\0`) : undefined
    return {
      data: (chunk: Buffer) => {
        this.fileData(sha, chunk)
        git?.update(chunk)
      },
      end: () => {
        this.files.push({
          path: stripDotSlash(entry.path),
          size: entry.size,
          sha256: sha.hex(),
          ...(git ? {gitOid: git.digest('hex')} : {}),
        })
      },
    }
  }

  /** A file's content: with the layer digest too when it is a slice of the chunk being read, at or past what that took. */
  private fileData(sha: Sha256, piece: Buffer): void {
    const chunk = this.chunk
    const at = chunk && piece.buffer === chunk.buffer ? piece.byteOffset - chunk.byteOffset : -1
    if (!this.stored || !chunk || at < this.storedTo || at + piece.length > chunk.length) return sha.update(piece)
    this.stored.update(chunk.subarray(this.storedTo, at))
    updateBoth(this.stored, sha, piece)
    this.storedTo = at + piece.length
  }

  private addHygiene(problem: string): void {
    if (this.hygiene.length < MAX_HYGIENE) this.hygiene.push(problem)
    else this.hygieneMore++
  }
}

/** Resolves on `event` or on 'error' (which the stream's own listener records). */
function settled(emitter: EventEmitter, event: string): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      emitter.off(event, done)
      emitter.off('error', done)
      resolve()
    }
    emitter.on(event, done)
    emitter.on('error', done)
  })
}

function tarMessage(error: unknown): string {
  if (error instanceof TarFormatError) return `unreadable tar: ${error.message}`
  throw error
}
