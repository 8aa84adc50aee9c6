// The services behind `modelcar forget` and `modelcar prune`: remove runs and
// their file rows from the history. The blob history stays (it is what lets a
// later push skip a layer), and a run a live process is pushing is never
// removed.
import {UsageError} from '../errors.js'
import {openStateDb, writeTx} from './db.js'
import {RunLockedError, ownerAlive} from './lock.js'
import {effectiveStatus, runTarget} from './report.js'
import {RunStore, type RunRow, type RunStatus} from './runs.js'

export interface ForgottenRun {
  id: number
  status: RunStatus
  hfRepo: string
  target: string
  /** File rows removed with it. */
  files: number
}

export interface ForgetResult {
  runs: ForgottenRun[]
}

export interface ForgetParams {
  stateDb: string
  runIds: number[]
}

export type PruneStatus = 'done' | 'failed' | 'interrupted'

export interface PruneParams {
  stateDb: string
  /** Only runs with this status; default: finished runs, done or failed. */
  status?: PruneStatus
  /** Runs last touched longer ago than this. */
  olderThanMs: number
  now?: number
}

export interface PruneResult extends ForgetResult {
  statuses: PruneStatus[]
  olderThanMs: number
}

/**
 * Remove these runs, all or none: an unknown id is a usage error (exit 2),
 * a run another live process holds is RunLockedError (exit 3).
 */
export function forgetRuns(params: ForgetParams): ForgetResult {
  return withStore(params.stateDb, (runs) =>
    writeTx(runs.db, () => {
      const ids = [...new Set(params.runIds)]
      const rows = ids.map((id) => runs.get(id))
      const unknown = ids.filter((_, i) => rows[i] === undefined)
      if (unknown.length > 0) {
        throw new UsageError(`No run ${unknown.join(', ')} in the history: see \`modelcar list\`. Nothing was forgotten.`, 'E_NO_RUN')
      }
      for (const run of rows as RunRow[]) {
        if (ownerAlive(run)) throw new RunLockedError(run.id, run.owner_pid!, run.owner_host!)
      }
      return {runs: (rows as RunRow[]).map((run) => remove(runs, run))}
    }),
  )
}

/** Remove every run of the given status last touched before the cutoff; live runs never. */
export function pruneRuns(params: PruneParams): PruneResult {
  const statuses: PruneStatus[] = params.status ? [params.status] : ['done', 'failed']
  const cutoff = (params.now ?? Date.now()) - params.olderThanMs
  return withStore(params.stateDb, (runs) =>
    writeTx(runs.db, () => {
      const candidates = runs.db
        .prepare(`SELECT * FROM runs WHERE COALESCE(finished_at, updated_at) < ? ORDER BY id`)
        .all(cutoff) as RunRow[]
      const chosen = candidates.filter((run) => !ownerAlive(run) && (statuses as RunStatus[]).includes(effectiveStatus(run)))
      return {runs: chosen.map((run) => remove(runs, run)), statuses, olderThanMs: params.olderThanMs}
    }),
  )
}

const AGE_UNITS: Record<string, number> = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000}

/** '30d', '12h', '90m', '2w', '45s' → milliseconds. */
export function parseAge(value: string, flag = '--older-than'): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(value.trim())
  if (!m) throw new UsageError(`Invalid ${flag} ${JSON.stringify(value)}: give a number and a unit, e.g. 30d, 12h, 90m, 2w or 45s.`)
  return Number(m[1]) * AGE_UNITS[m[2]]
}

function remove(runs: RunStore, run: RunRow): ForgottenRun {
  const files = runs.db.prepare('DELETE FROM run_files WHERE run_id = ?').run(run.id).changes
  runs.db.prepare('DELETE FROM runs WHERE id = ?').run(run.id)
  return {
    id: run.id,
    status: effectiveStatus(run),
    hfRepo: run.hf_repo,
    target: runTarget(run),
    files,
  }
}

function withStore<T>(stateDb: string, fn: (runs: RunStore) => T): T {
  const db = openStateDb(stateDb)
  try {
    return fn(new RunStore(db))
  } finally {
    db.close()
  }
}
