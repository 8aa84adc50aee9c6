// One process drives a run at a time. The owner (pid, host) is written into
// the run in an immediate transaction; a lock whose process is dead (same
// host) or whose heartbeat stopped (other host) is taken over.
import {hostname} from 'node:os'
import {EXIT, ModelcarError} from '../errors.js'
import {writeTx} from './db.js'
import type {RunStore} from './runs.js'

/** A heartbeat older than this means the owner on another host is gone. */
export const STALE_HEARTBEAT_MS = 2 * 60_000
const HEARTBEAT_EVERY_MS = 15_000

export class RunLockedError extends ModelcarError {
  constructor(runId: number, pid: number, host: string) {
    super(
      `Run ${runId} is being pushed by process ${pid} on ${host}: wait for it to finish, or stop that process and run the command again.`,
      {code: 'E_RUN_LOCKED', exitCode: EXIT.locked},
    )
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether the recorded owner of a run is still working on it. */
export function ownerAlive(
  run: {owner_pid: number | null; owner_host: string | null; heartbeat_at: number | null},
  now = Date.now(),
): boolean {
  if (run.owner_pid === null || run.owner_host === null) return false
  if (run.owner_host === hostname()) return run.owner_pid !== process.pid && processAlive(run.owner_pid)
  return now - (run.heartbeat_at ?? 0) < STALE_HEARTBEAT_MS
}

/** Take the run's lock, or throw RunLockedError. Returns a release function. */
export function lockRun(runs: RunStore, runId: number): () => void {
  writeTx(runs.db, () => {
    const run = runs.get(runId)
    if (!run) throw new ModelcarError(`Run ${runId} does not exist: see \`modelcar list\`.`, {code: 'E_NO_RUN', exitCode: EXIT.usage})
    if (ownerAlive(run) && !(run.owner_pid === process.pid && run.owner_host === hostname()))
      throw new RunLockedError(runId, run.owner_pid!, run.owner_host!)
    runs.db
      .prepare(`UPDATE runs SET owner_pid = ?, owner_host = ?, heartbeat_at = ? WHERE id = ?`)
      .run(process.pid, hostname(), Date.now(), runId)
  })
  const timer = setInterval(() => {
    try {
      runs.write(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_pid = ?`, Date.now(), runId, process.pid)
    } catch {
      // a busy database delays one heartbeat; the next one catches up
    }
  }, HEARTBEAT_EVERY_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    runs.write(
      `UPDATE runs SET owner_pid = NULL, owner_host = NULL WHERE id = ? AND owner_pid = ? AND owner_host = ?`,
      runId,
      process.pid,
      hostname(),
    )
  }
}
