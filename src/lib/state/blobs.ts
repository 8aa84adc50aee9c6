// History of every blob pushed, keyed by what determines its bytes (repo path
// and content id), so a later push can skip or cross-mount a layer without
// re-reading the file: the bytes are deterministic.
import {writeTx, type DB} from './db.js'

export interface BlobRecord {
  registry: string
  repository: string
  digest: string
  size: number
  sourceKey: string
  hfRepo?: string
  hfSha?: string
  path?: string
  contentSha256?: string
}

/** The identity of a layer's bytes: its path under models/ and its content. */
export function sourceKey(file: {path: string; size: number; oid: string; lfsSha256?: string}): string {
  return `${file.path}\u0000${file.size}\u0000${file.lfsSha256 ? `sha256:${file.lfsSha256}` : `git:${file.oid}`}`
}

export class BlobStore {
  constructor(readonly db: DB) {}

  record(b: BlobRecord): void {
    const stmt = this.db.prepare(
      `INSERT INTO blobs (registry, repository, digest, size, source_key, hf_repo, hf_sha, path, content_sha256, pushed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(registry, repository, digest) DO UPDATE SET pushed_at = excluded.pushed_at, source_key = excluded.source_key`,
    )
    writeTx(this.db, () =>
      stmt.run(
        b.registry,
        b.repository,
        b.digest,
        b.size,
        b.sourceKey,
        b.hfRepo ?? null,
        b.hfSha ?? null,
        b.path ?? null,
        b.contentSha256 ?? null,
        Date.now(),
      ),
    )
  }

  /** Known blobs with these bytes on a registry, this repository first. */
  find(
    registry: string,
    repository: string,
    key: string,
  ): Array<{repository: string; digest: string; size: number; contentSha256: string | null}> {
    return this.db
      .prepare(
        `SELECT repository, digest, size, content_sha256 AS contentSha256 FROM blobs
       WHERE registry = ? AND source_key = ? ORDER BY (repository = ?) DESC, pushed_at DESC LIMIT 5`,
      )
      .all(registry, key, repository) as Array<{repository: string; digest: string; size: number; contentSha256: string | null}>
  }
}
