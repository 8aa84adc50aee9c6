// Runs and their files: what a push did, file by file, so it can be resumed,
// reported (status, list) and audited. All writes are immediate transactions.
import type {Statement} from 'better-sqlite3'
import {hostname} from 'node:os'
import {checkpointFromRow, checkpointToRow, type CheckpointRow, type LayerCheckpoint} from './checkpoint.js'
import {writeTx, type DB} from './db.js'

export type RunStatus = 'running' | 'done' | 'failed' | 'interrupted'
export type FileStatus = 'pending' | 'uploading' | 'done' | 'failed'

export interface RunRow {
  id: number
  status: RunStatus
  hf_endpoint: string
  hf_repo: string
  hf_revision: string
  hf_sha: string | null
  registry: string
  target_repo: string
  target_tag: string | null
  params: string
  manifest_digest: string | null
  files_total: number
  bytes_total: number
  error: string | null
  owner_pid: number | null
  owner_host: string | null
  started_at: number
  updated_at: number
  finished_at: number | null
  heartbeat_at: number | null
  bytes_uploaded: number
  bytes_reread: number
  attempts: number
  push_key: string | null
}

export interface RunFileRow extends CheckpointRow {
  run_id: number
  path: string
  size: number
  layer_size: number
  oid: string
  lfs_sha256: string | null
  status: FileStatus
  layer_digest: string | null
  content_sha256: string | null
  bytes_done: number
  error: string | null
  updated_at: number
}

export interface NewRun {
  /** Identifies "the same push": re-running it continues the unfinished run. */
  pushKey: string
  hfSha: string
  hfEndpoint: string
  hfRepo: string
  hfRevision: string
  registry: string
  targetRepo: string
  targetTag?: string
  params: Record<string, unknown>
}

export class RunStore {
  constructor(readonly db: DB) {}

  create(run: NewRun): number {
    const now = Date.now()
    return writeTx(this.db, () =>
      Number(
        this.db
          .prepare(
            `INSERT INTO runs (status, push_key, hf_endpoint, hf_repo, hf_revision, hf_sha, registry, target_repo, target_tag, params, owner_pid, owner_host, heartbeat_at, started_at, updated_at)
       VALUES ('running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            run.pushKey,
            run.hfEndpoint,
            run.hfRepo,
            run.hfRevision,
            run.hfSha,
            run.registry,
            run.targetRepo,
            run.targetTag ?? null,
            JSON.stringify(run.params),
            process.pid,
            hostname(),
            now,
            now,
            now,
          ).lastInsertRowid,
      ),
    )
  }

  /** The newest unfinished run of the same push, if any. */
  findResumable(pushKey: string): RunRow | undefined {
    return this.db.prepare(`SELECT * FROM runs WHERE push_key = ? AND status != 'done' ORDER BY id DESC LIMIT 1`).get(pushKey) as
      RunRow | undefined
  }

  /** The newest run that is not done (for `modelcar resume` without an id). */
  latestUnfinished(): RunRow | undefined {
    return this.db.prepare(`SELECT * FROM runs WHERE status != 'done' ORDER BY id DESC LIMIT 1`).get() as RunRow | undefined
  }

  list(filter: {repo?: string; status?: string; limit?: number; unfinished?: boolean} = {}): RunRow[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.repo) {
      where.push('(hf_repo = ? OR target_repo = ?)')
      args.push(filter.repo, filter.repo)
    }
    if (filter.status) {
      where.push('status = ?')
      args.push(filter.status)
    }
    if (filter.unfinished) where.push(`status != 'done'`)
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`
    return this.db.prepare(sql).all(...args, filter.limit ?? 20) as RunRow[]
  }

  /** A run starts again: running, one more attempt, errors cleared. */
  restart(runId: number): void {
    this.write(
      `UPDATE runs SET status = 'running', error = NULL, attempts = attempts + 1, finished_at = NULL, updated_at = ? WHERE id = ?`,
      Date.now(),
      runId,
    )
  }

  /** Bytes sent to the registry and bytes re-read from the Hub to rebuild hashes. */
  addTransfer(runId: number, uploaded: number, reread: number): void {
    if (uploaded === 0 && reread === 0) return
    this.write(
      `UPDATE runs SET bytes_uploaded = bytes_uploaded + ?, bytes_reread = bytes_reread + ?, updated_at = ? WHERE id = ?`,
      uploaded,
      reread,
      Date.now(),
      runId,
    )
  }

  file(runId: number, path: string): RunFileRow | undefined {
    return this.db.prepare(`SELECT * FROM run_files WHERE run_id = ? AND path = ?`).get(runId, path) as RunFileRow | undefined
  }

  /** A file's saved upload checkpoint, if it holds a usable one. */
  savedCheckpoint(runId: number, path: string): LayerCheckpoint | undefined {
    return checkpointFromRow(this.file(runId, path))
  }

  /** Forget a file's upload session (it is gone, or being restarted). */
  clearCheckpoint(runId: number, path: string): void {
    this.write(
      `UPDATE run_files SET upload_location = NULL, upload_offset = NULL, hash_state = NULL, bytes_done = 0, updated_at = ? WHERE run_id = ? AND path = ?`,
      Date.now(),
      runId,
      path,
    )
  }

  /** Record the resolved plan: commit, tag and every file, pending. */
  setPlan(
    runId: number,
    plan: {sha: string; tag: string; files: Array<{path: string; size: number; layerSize: number; oid: string; lfsSha256?: string}>},
  ): void {
    const now = Date.now()
    const insert = this.db.prepare(
      `INSERT INTO run_files (run_id, path, size, layer_size, oid, lfs_sha256, status, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
       ON CONFLICT(run_id, path) DO NOTHING`,
    )
    writeTx(this.db, () => {
      this.db.prepare(`UPDATE runs SET hf_sha = ?, target_tag = ?, files_total = ?, bytes_total = ?, updated_at = ? WHERE id = ?`).run(
        plan.sha,
        plan.tag,
        plan.files.length,
        plan.files.reduce((n, f) => n + f.layerSize, 0),
        now,
        runId,
      )
      for (const f of plan.files) insert.run(runId, f.path, f.size, f.layerSize, f.oid, f.lfsSha256 ?? null, now)
    })
  }

  fileUploading(runId: number, path: string): void {
    this.write(
      `UPDATE run_files SET status = 'uploading', error = NULL, updated_at = ? WHERE run_id = ? AND path = ?`,
      Date.now(),
      runId,
      path,
    )
  }

  /**
   * An acknowledged chunk: where the session is and how far it got. A hash
   * state (it records its own offset) replaces the saved one; without one
   * the last saved state is kept, to be caught up from on resume.
   */
  checkpoint(runId: number, path: string, cp: LayerCheckpoint): void {
    const row = checkpointToRow(cp)
    this.write(
      `UPDATE run_files SET upload_location = ?, upload_offset = ?, bytes_done = ?, hash_state = COALESCE(?, hash_state), updated_at = ? WHERE run_id = ? AND path = ?`,
      row.upload_location,
      row.upload_offset,
      cp.offset,
      row.hash_state,
      Date.now(),
      runId,
      path,
    )
  }

  /**
   * The layer's digest, recorded before its commit is sent: if the process dies
   * after the registry completed the blob, the next run finds it with a HEAD
   * instead of uploading it again.
   */
  fileHashed(runId: number, path: string, result: {digest: string; contentSha256: string}): void {
    this.write(
      `UPDATE run_files SET layer_digest = ?, content_sha256 = ?, updated_at = ? WHERE run_id = ? AND path = ?`,
      result.digest,
      result.contentSha256,
      Date.now(),
      runId,
      path,
    )
  }

  fileDone(runId: number, path: string, result: {digest: string; size: number; contentSha256: string}): void {
    this.write(
      `UPDATE run_files SET status = 'done', layer_digest = ?, content_sha256 = ?, bytes_done = ?, upload_location = NULL, upload_offset = NULL, hash_state = NULL, error = NULL, updated_at = ? WHERE run_id = ? AND path = ?`,
      result.digest,
      result.contentSha256,
      result.size,
      Date.now(),
      runId,
      path,
    )
  }

  fileFailed(runId: number, path: string, error: string): void {
    this.write(
      `UPDATE run_files SET status = 'failed', error = ?, updated_at = ? WHERE run_id = ? AND path = ?`,
      error,
      Date.now(),
      runId,
      path,
    )
  }

  /** Close a run and release its lock (only if we still hold it). */
  finish(runId: number, status: RunStatus, detail: {manifestDigest?: string; error?: string} = {}): void {
    const now = Date.now()
    this.write(
      `UPDATE runs SET status = ?, manifest_digest = COALESCE(?, manifest_digest), error = ?, updated_at = ?, finished_at = ?,
                  owner_pid = CASE WHEN owner_pid = ? AND owner_host = ? THEN NULL ELSE owner_pid END,
                  owner_host = CASE WHEN owner_pid = ? AND owner_host = ? THEN NULL ELSE owner_host END
                WHERE id = ?`,
      status,
      detail.manifestDigest ?? null,
      detail.error ?? null,
      now,
      status === 'done' || status === 'failed' ? now : null,
      process.pid,
      hostname(),
      process.pid,
      hostname(),
      runId,
    )
  }

  get(runId: number): RunRow | undefined {
    return this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow | undefined
  }

  files(runId: number): RunFileRow[] {
    return this.db.prepare(`SELECT * FROM run_files WHERE run_id = ? ORDER BY path`).all(runId) as RunFileRow[]
  }

  /** The few UPDATEs a push repeats (one per acknowledged PATCH) are prepared once. */
  private readonly statements = new Map<string, Statement>()

  write(sql: string, ...args: unknown[]): void {
    let statement = this.statements.get(sql)
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)))
    writeTx(this.db, () => statement.run(...args))
  }
}
