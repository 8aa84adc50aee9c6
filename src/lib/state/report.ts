// Read models for `modelcar status` and `modelcar list`: runs and files as
// people (and --json consumers) want to see them, computed from the database.
import {ownerAlive} from './lock.js'
import type {RunFileRow, RunRow, RunStatus, RunStore} from './runs.js'

export interface RunSummary {
  id: number
  status: RunStatus
  owner?: {pid: number; host: string}
  hfRepo: string
  revision: string
  sha: string | null
  target: string
  manifestDigest: string | null
  files: number
  bytesTotal: number
  bytesUploaded: number
  bytesReread: number
  attempts: number
  startedAt: string
  finishedAt: string | null
  durationSeconds: number
  error: string | null
}

export interface FileState {
  path: string
  state: 'done' | 'in progress' | 'pending' | 'failed'
  size: number
  layerSize: number
  bytesDone: number
  digest: string | null
  error: string | null
}

export interface RunDetail extends RunSummary {
  fileStates: FileState[]
  bytesDone: number
  bytesLeft: number
  resumeCommand: string | null
}

/** Recorded errors may quote a URL a server sent (a Location, a redirect): never show its user or password. */
export function redactUrls(text: string | null): string | null {
  return text === null ? null : text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, '$1***@')
}

/** A 'running' run whose owner is gone was interrupted (kill -9, OOM, reboot). */
export function effectiveStatus(run: RunRow): RunStatus {
  if (run.status === 'running' && !ownerAlive(run)) return 'interrupted'
  return run.status
}

/** registry/repo:tag, or oci:DIR:tag for a push to an OCI image layout (no repository). */
export function runTarget(run: RunRow): string {
  const name = run.target_repo ? `${run.registry}/${run.target_repo}` : run.registry
  return `${name}${run.target_tag ? `:${run.target_tag}` : ''}`
}

export function summarize(run: RunRow): RunSummary {
  const status = effectiveStatus(run)
  const end = run.finished_at ?? run.updated_at
  return {
    id: run.id,
    status,
    ...(status === 'running' && run.owner_pid !== null ? {owner: {pid: run.owner_pid, host: run.owner_host ?? ''}} : {}),
    hfRepo: run.hf_repo,
    revision: run.hf_revision,
    sha: run.hf_sha,
    target: runTarget(run),
    manifestDigest: run.manifest_digest,
    files: run.files_total,
    bytesTotal: run.bytes_total,
    bytesUploaded: run.bytes_uploaded,
    bytesReread: run.bytes_reread,
    attempts: run.attempts,
    startedAt: new Date(run.started_at).toISOString(),
    finishedAt: run.finished_at === null ? null : new Date(run.finished_at).toISOString(),
    durationSeconds: Math.max(0, (end - run.started_at) / 1000),
    error: redactUrls(run.error),
  }
}

function fileState(f: RunFileRow): FileState {
  const state =
    f.status === 'done'
      ? 'done'
      : f.status === 'failed'
        ? 'failed'
        : f.status === 'uploading' || f.bytes_done > 0
          ? 'in progress'
          : 'pending'
  return {
    path: f.path,
    state,
    size: f.size,
    layerSize: f.layer_size,
    bytesDone: f.status === 'done' ? f.layer_size : f.bytes_done,
    digest: f.layer_digest,
    error: redactUrls(f.error),
  }
}

export function detail(runs: RunStore, run: RunRow): RunDetail {
  const summary = summarize(run)
  const fileStates = runs.files(run.id).map(fileState)
  const bytesDone = fileStates.reduce((n, f) => n + f.bytesDone, 0)
  return {
    ...summary,
    fileStates,
    bytesDone,
    bytesLeft: Math.max(0, run.bytes_total - bytesDone),
    resumeCommand: summary.status === 'done' || summary.status === 'running' ? null : `modelcar resume ${run.id}`,
  }
}

/** Runs `modelcar status` shows without an id: every one not done. */
export function unfinished(runs: RunStore, limit = 20): RunDetail[] {
  return runs.list({unfinished: true, limit}).map((run) => detail(runs, run))
}
