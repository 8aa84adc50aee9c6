// An OCI image layout on disk (image-spec image-layout.md) as a push target:
// the calls of a registry (ImageTarget), so a push to a directory has the
// same sessions, checkpoints and resume as one to a registry. A blob enters
// blobs/sha256/ only by an atomic rename after its bytes hash to its digest;
// a tag is an index.json entry (annotation org.opencontainers.image.ref.name),
// and index.json is replaced by temp file + rename. Upload sessions are files
// under .modelcar-uploads/ (skopeo, umoci and oras read only oci-layout,
// index.json and blobs/), their location a file: URL the state db keeps.
import {createHash, randomUUID} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {ModelcarError, UsageError} from '../errors.js'
import {RegistryRefusedError, UploadGoneError} from './client.js'
import {digestOf, shortDigest} from './digest.js'
import type {ImageTarget, UploadStatus} from './target.js'
import {MEDIA} from './types.js'

export const LAYOUT_VERSION = '1.0.0'
export const REF_NAME = 'org.opencontainers.image.ref.name'
/** Not part of the layout: upload sessions and the index lock. */
export const UPLOADS_DIR = '.modelcar-uploads'
/** A lock older than this belongs to a process that died while updating index.json. */
const STALE_LOCK_MS = 30_000
const LOCK_WAIT_MS = 60_000
/** A temporary file (config, manifest, index.json) lives milliseconds; one this old was left by a killed process. */
const STALE_TEMP_MS = 10 * 60_000

export interface IndexEntry {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  [key: string]: unknown
}

interface LayoutIndex {
  schemaVersion: number
  mediaType?: string
  manifests: IndexEntry[]
  [key: string]: unknown
}

export class LayoutTarget implements ImageTarget {
  readonly dir: string
  private readonly uploads: string

  constructor(dir: string) {
    this.dir = resolve(dir)
    this.uploads = join(this.dir, UPLOADS_DIR)
  }

  /** oci:DIR, as skopeo names it. */
  get display(): string {
    return `oci:${this.dir}`
  }

  /** Create the layout (in a new or empty directory) or check the one there. */
  async ping(): Promise<void> {
    await mkdir(this.dir, {recursive: true}).catch((error) => {
      throw this.fsError(error, `create ${this.dir}`)
    })
    const marker = await readFile(join(this.dir, 'oci-layout'), 'utf8').catch((error) =>
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : Promise.reject(this.fsError(error, 'read oci-layout')),
    )
    if (marker === undefined) {
      // Ours from a push that died before writing the marker, or nothing: anything else is someone's data.
      const foreign = (await readdir(this.dir)).filter((name) => ![UPLOADS_DIR, 'blobs', 'index.json'].includes(name))
      if (foreign.length > 0)
        throw new UsageError(
          `${this.dir} is neither empty nor an OCI image layout (it holds ${foreign[0]}): name a new or empty directory, or a layout, in --to oci:DIR.`,
          'E_LAYOUT',
        )
    } else {
      let version: unknown
      try {
        version = (JSON.parse(marker) as {imageLayoutVersion?: unknown}).imageLayoutVersion
      } catch {
        // reported below
      }
      if (version !== LAYOUT_VERSION) {
        const why = `${this.dir}/oci-layout does not say imageLayoutVersion ${LAYOUT_VERSION}: not a layout modelcar can write to.`
        throw new ModelcarError(why, {code: 'E_LAYOUT'})
      }
    }
    await mkdir(join(this.dir, 'blobs', 'sha256'), {recursive: true})
    await mkdir(this.uploads, {recursive: true})
    await this.sweepTemps()
    const index = await readFile(join(this.dir, 'index.json')).catch(() => undefined)
    if (!index) await this.writeFileAtomic('index.json', Buffer.from(JSON.stringify(emptyIndex())))
    else this.parseIndex(index)
    if (marker === undefined) await this.writeFileAtomic('oci-layout', Buffer.from(JSON.stringify({imageLayoutVersion: LAYOUT_VERSION})))
  }

  async headBlob(digest: string): Promise<{size: number; digest: string} | undefined> {
    const found = await stat(this.blobPath(digest)).catch(() => undefined)
    return found?.isFile() ? {size: found.size, digest} : undefined
  }

  /** A layout has no other repositories to mount from. */
  async mountBlob(): Promise<boolean> {
    return false
  }

  async checkBlob(digest: string, size: number): Promise<void> {
    const found = await this.headBlob(digest)
    if (!found) throw new ModelcarError(`Blob ${shortDigest(digest)} is missing from ${this.display}.`, {code: 'E_LAYOUT_BLOB'})
    if (found.size !== size)
      throw new ModelcarError(`Blob ${shortDigest(digest)} in ${this.display} has ${found.size} bytes instead of ${size}.`, {
        code: 'E_LAYOUT_BLOB',
      })
  }

  async startUpload(): Promise<{location: URL}> {
    const path = join(this.uploads, randomUUID())
    const fh = await open(path, 'wx').catch((error) => Promise.reject(this.fsError(error, 'start an upload')))
    await fh.close()
    return {location: pathToFileURL(path)}
  }

  async uploadStatus(location: URL): Promise<UploadStatus> {
    const found = await stat(this.sessionPath(location)).catch(() => undefined)
    if (!found) throw new UploadGoneError('the upload session file is gone')
    return {location, size: found.size}
  }

  /**
   * Write [start, start + length) as `pull` gives it, then fsync: an
   * acknowledged offset survives a crash. Bytes past `start` (from a write
   * that failed before it was acknowledged) are cut first.
   */
  async patchStream(
    location: URL,
    start: number,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    opts: {signal?: AbortSignal; giveBack?: (piece: Buffer) => void} = {},
  ): Promise<URL> {
    const fh = await this.openSession(location)
    try {
      const {size} = await fh.stat()
      if (size < start) throw new UploadGoneError(`the upload session holds ${size} bytes, not ${start}`)
      if (size > start) await fh.truncate(start)
      let written = 0
      while (written < length) {
        opts.signal?.throwIfAborted()
        const piece = await pull(length - written)
        if (piece.length === 0) throw new ModelcarError(`the source ended ${length - written} bytes early`, {code: 'E_LAYOUT_SOURCE'})
        await fh.write(piece, 0, piece.length, start + written)
        opts.giveBack?.(piece)
        written += piece.length
      }
      await fh.sync()
    } catch (error) {
      // A disk error (ENOSPC, EIO) in modelcar's words; the source's own errors pass as they are.
      throw (error as NodeJS.ErrnoException).syscall ? this.fsError(error, 'write an upload') : error
    } finally {
      await fh.close()
    }
    return location
  }

  async putStream(
    location: URL,
    digest: string,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.patchStream(location, 0, length, pull, {signal})
    await this.commitUpload(location, digest, length)
  }

  /** Hash the session file; only when it is the blob `digest`, rename it into blobs/. */
  async commitUpload(location: URL, digest: string, size: number): Promise<void> {
    const path = this.sessionPath(location)
    const target = this.blobPath(digest)
    const what = `commit ${shortDigest(digest)}`
    // Committed by a process that died before it heard so: the blob is there.
    if ((await this.headBlob(digest))?.size === size) {
      await rm(path, {force: true})
      return
    }
    const held = await hashFile(path).catch((error) => Promise.reject(sessionError(error, `${what}: the session file is gone`)))
    if (held.size !== size) throw new RegistryRefusedError(`${what}: the upload holds ${held.size} bytes, not ${size}`, 400, 'SIZE_INVALID')
    if (held.digest !== digest) throw new RegistryRefusedError(`${what}: the uploaded bytes hash to ${held.digest}`, 400, 'DIGEST_INVALID')
    await rename(path, target)
    await syncDir(dirname(target))
  }

  async cancelUpload(location: URL): Promise<void> {
    await rm(this.sessionPath(location), {force: true})
  }

  async pushBlob(bytes: Buffer, digest: string): Promise<void> {
    if (digestOf(bytes) !== digest)
      throw new RegistryRefusedError(`PUT blob ${shortDigest(digest)}: the bytes hash to ${digestOf(bytes)}`, 400, 'DIGEST_INVALID')
    if ((await this.headBlob(digest))?.size === bytes.length) return
    const path = await this.writeTemp(bytes)
    await rename(path, this.blobPath(digest))
    await syncDir(join(this.dir, 'blobs', 'sha256'))
  }

  /** The manifest as a blob; a tag also names it in index.json (replacing that tag's entry, keeping the others). */
  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string> {
    const digest = digestOf(body)
    if (reference.includes(':') && reference !== digest)
      throw new RegistryRefusedError(`PUT manifest ${reference}: the bytes hash to ${digest}`, 400, 'DIGEST_INVALID')
    await this.pushBlob(body, digest)
    if (reference === digest) return digest
    await this.withIndexLock(async () => {
      const index = this.parseIndex(await readFile(join(this.dir, 'index.json')))
      const entry: IndexEntry = {mediaType, digest, size: body.length, annotations: {[REF_NAME]: reference}}
      index.manifests = [...index.manifests.filter((m) => m.annotations?.[REF_NAME] !== reference), entry]
      await this.writeFileAtomic('index.json', Buffer.from(JSON.stringify(index)))
    })
    return digest
  }

  async resolveManifest(reference: string): Promise<string | undefined> {
    if (reference.includes(':')) return (await this.headBlob(reference)) ? reference : undefined
    const bytes = await readFile(join(this.dir, 'index.json')).catch(() => undefined)
    if (!bytes) return undefined
    return this.parseIndex(bytes).manifests.find((m) => m.annotations?.[REF_NAME] === reference)?.digest
  }

  /** What index.json names: tag → descriptor. */
  async tags(): Promise<Map<string, IndexEntry>> {
    const index = this.parseIndex(await readFile(join(this.dir, 'index.json')))
    const tags = new Map<string, IndexEntry>()
    for (const m of index.manifests) if (m.annotations?.[REF_NAME]) tags.set(m.annotations[REF_NAME], m)
    return tags
  }

  blobPath(digest: string): string {
    const m = /^sha256:([a-f0-9]{64})$/.exec(digest)
    if (!m) throw new ModelcarError(`${JSON.stringify(digest)} is not a sha256 digest.`, {code: 'E_LAYOUT_BLOB'})
    return join(this.dir, 'blobs', 'sha256', m[1])
  }

  /** A session of this layout, never a path elsewhere (the location comes back from the state db). */
  private sessionPath(location: URL): string {
    const path = location.protocol === 'file:' ? fileURLToPath(location) : undefined
    if (!path || dirname(path) !== this.uploads) throw new UploadGoneError(`${location.href} is not an upload session of ${this.display}`)
    return path
  }

  private async openSession(location: URL): Promise<FileHandle> {
    return open(this.sessionPath(location), 'r+').catch((error) => Promise.reject(sessionError(error, 'the upload session file is gone')))
  }

  private parseIndex(bytes: Buffer): LayoutIndex {
    try {
      const index = JSON.parse(bytes.toString('utf8')) as LayoutIndex
      if (index && Array.isArray(index.manifests)) return index
    } catch {
      // reported below
    }
    throw new ModelcarError(`${this.dir}/index.json is not an OCI image index: repair or remove it.`, {code: 'E_LAYOUT'})
  }

  /** A fsynced temporary file under the uploads folder (same file system as the layout, so rename is atomic). */
  private async writeTemp(bytes: Buffer): Promise<string> {
    const path = join(this.uploads, `${randomUUID()}.tmp`)
    const fh = await open(path, 'wx').catch((error) => Promise.reject(this.fsError(error, 'write a file')))
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } catch (error) {
      await rm(path, {force: true})
      throw this.fsError(error, 'write a file')
    } finally {
      await fh.close()
    }
    return path
  }

  private async writeFileAtomic(name: string, bytes: Buffer): Promise<void> {
    await mkdir(this.uploads, {recursive: true})
    const path = await this.writeTemp(bytes)
    await rename(path, join(this.dir, name))
    await syncDir(this.dir)
  }

  /** Temporary files a killed process left (sessions are kept: a run may resume them). */
  private async sweepTemps(): Promise<void> {
    for (const name of await readdir(this.uploads)) {
      if (!name.endsWith('.tmp')) continue
      const path = join(this.uploads, name)
      const found = await stat(path).catch(() => undefined)
      if (found && Date.now() - found.mtimeMs > STALE_TEMP_MS) await rm(path, {force: true})
    }
  }

  /** index.json is read, changed and replaced by one process at a time (two pushes may tag one layout). */
  private async withIndexLock<T>(work: () => Promise<T>): Promise<T> {
    const lock = join(this.uploads, 'index.lock')
    const deadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      const fh = await open(lock, 'wx').catch((error) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        return undefined
      })
      if (fh) {
        await fh.close()
        break
      }
      const held = await stat(lock).catch(() => undefined)
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await unlink(lock).catch(() => undefined)
      else if (Date.now() > deadline)
        throw new ModelcarError(`${lock} has been held for over ${LOCK_WAIT_MS / 1000} s: remove it if no push is running.`, {
          code: 'E_LAYOUT',
        })
      else await sleep(50)
    }
    try {
      return await work()
    } finally {
      await unlink(lock).catch(() => undefined)
    }
  }

  private fsError(error: unknown, what: string): ModelcarError {
    const e = error as NodeJS.ErrnoException
    const fix =
      e.code === 'ENOSPC' || e.code === 'EDQUOT'
        ? 'free some space and run the push again (it resumes)'
        : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
          ? 'pick a directory you can write to'
          : 'check the path'
    return new ModelcarError(`Cannot ${what} in ${this.dir} (${e.code ?? e.message}): ${fix}.`, {code: 'E_LAYOUT'})
  }
}

/** A session file that is not there: the session is gone (the layer starts over); other errors as they are. */
function sessionError(error: unknown, message: string): Error {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new UploadGoneError(message) : (error as Error)
}

function emptyIndex(): LayoutIndex {
  return {schemaVersion: 2, mediaType: MEDIA.index, manifests: []}
}

/** sha256 and size of a file, streamed. */
async function hashFile(path: string): Promise<{digest: string; size: number}> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path, {highWaterMark: 1 << 20}) as AsyncIterable<Buffer>) {
    hash.update(chunk)
    size += chunk.length
  }
  return {digest: `sha256:${hash.digest('hex')}`, size}
}

/** A rename is durable once its directory is synced. */
async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  } finally {
    await fh.close()
  }
}
