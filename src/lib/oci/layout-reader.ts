// Reading an image from an OCI image layout, for verify and ls.
import {createReadStream, existsSync} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {ModelcarError} from '../errors.js'
import {BlobNotFoundError, type BlobHead, type FetchedManifest, type ImageSource} from './blob-reader.js'
import {LayoutTarget} from './layout.js'

/** Reading an image from a layout, as BlobReader reads one from a registry (verify, ls). */
export class LayoutReader implements ImageSource {
  private readonly layout: LayoutTarget

  constructor(dir: string) {
    this.layout = new LayoutTarget(dir)
  }

  async head(digest: string): Promise<BlobHead> {
    const found = await this.layout.headBlob(digest)
    return found ? {status: 200, size: found.size, digest} : {status: 404}
  }

  /** By tag (index.json) or digest; the media type is the one the bytes declare, else the index entry's. */
  async manifest(reference: string, maxBytes = 4 * 1024 * 1024): Promise<FetchedManifest | undefined> {
    if (!existsSync(join(this.layout.dir, 'oci-layout')))
      throw new ModelcarError(`${this.layout.dir} is not an OCI image layout (no oci-layout file): check the path.`, {code: 'E_LAYOUT'})
    const entry = reference.includes(':') ? undefined : (await this.layout.tags()).get(reference)
    const digest = reference.includes(':') ? reference : entry?.digest
    if (!digest || !(await this.layout.headBlob(digest))) return undefined
    const path = this.layout.blobPath(digest)
    if ((await stat(path)).size > maxBytes)
      throw new ModelcarError(`The manifest ${reference} is over the ${maxBytes}-byte limit for manifests.`, {code: 'E_MANIFEST_TOO_LARGE'})
    const body = await readFile(path)
    let declared: unknown
    try {
      declared = (JSON.parse(body.toString('utf8')) as {mediaType?: unknown}).mediaType
    } catch {
      // the caller's parser says what is wrong with it
    }
    return {body, contentType: typeof declared === 'string' ? declared : (entry?.mediaType ?? '')}
  }

  async *stream(digest: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const path = this.layout.blobPath(digest)
    if (!(await this.layout.headBlob(digest))) throw new BlobNotFoundError(digest)
    for await (const chunk of createReadStream(path, {highWaterMark: 1 << 20, signal}) as AsyncIterable<Buffer>) yield chunk
  }
}
