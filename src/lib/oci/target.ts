// Where a push writes its image: a registry repository (client.ts) or an OCI
// image layout on disk (layout.ts). The push speaks only these calls, so the
// upload sessions, checkpoints and resume are one code path for both.

export interface UploadStatus {
  location: URL
  /** Bytes the target holds, or undefined when it did not say. */
  size: number | undefined
}

export interface ImageTarget {
  /** Proves the target is usable before a run is recorded. */
  ping(): Promise<void>
  /** Size of a blob, or undefined when it is absent. */
  headBlob(digest: string): Promise<{size: number; digest: string | undefined} | undefined>
  /** Link a blob from another repository of the same target; true when it did. */
  mountBlob(digest: string, fromRepository: string): Promise<boolean>
  /** Throws unless the blob is there whole. */
  checkBlob(digest: string, size: number): Promise<void>
  startUpload(): Promise<{location: URL; minChunk?: number}>
  uploadStatus(location: URL): Promise<UploadStatus>
  /**
   * Bytes [start, start + length), pulled from `pull` as they are written;
   * returns the next location. `giveBack(piece)`: nothing reads the piece any more.
   */
  patchStream(
    location: URL,
    start: number,
    length: number,
    pull: (max: number) => Promise<Buffer>,
    opts?: {signal?: AbortSignal; contentRange?: boolean; giveBack?: (piece: Buffer) => void},
  ): Promise<URL>
  /** The whole blob in one request that also closes the session. */
  putStream(location: URL, digest: string, length: number, pull: (max: number) => Promise<Buffer>, signal?: AbortSignal): Promise<void>
  /** Close the session as the blob `digest`; refused (DIGEST_INVALID) when the bytes hash otherwise. checkBlob says it landed whole. */
  commitUpload(location: URL, digest: string, size: number): Promise<void>
  cancelUpload(location: URL): Promise<void>
  /** A small blob (a config) in one go; into `opened`, a session opened ahead, when it still takes it. */
  pushBlob(bytes: Buffer, digest: string, opened?: Promise<{location: URL}>): Promise<void>
  /** Store a manifest under a tag or its digest; returns the digest the target reports. */
  putManifest(reference: string, body: Buffer, mediaType: string): Promise<string | undefined>
  /** The digest a tag (or digest) names now, or undefined. */
  resolveManifest(reference: string): Promise<string | undefined>
}
