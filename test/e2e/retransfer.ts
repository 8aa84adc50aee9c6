/**
 * Counts, from the recording proxy's view of the PATCHes, which layer bytes
 * were uploaded more than once and charges each re-sent byte to the kill just
 * before it. Chunked PATCHes carry `Content-Range: start-end` and the session
 * id in their path; a session is tied to its file by the run's checkpoints
 * (`watch` polls the state database while the CLI runs). A session never
 * checkpointed (its first PATCH was cut) is charged in full to the kill that
 * cut it: its bytes are sent again from byte 0.
 */
import Database from 'better-sqlite3'
import {existsSync} from 'node:fs'
import type {RecordedRequest} from '../fixtures/hub/index.js'
import type {ProxyRequestRecord} from '../fixtures/registry/proxy.js'

type Interval = [number, number]
/** Bytes moved: of which file (none: an abandoned, unknown upload session) from where. */
interface Piece {
  file?: string
  start?: number
  bytes: number
}
/** Repeated bytes charged to each kill (`perKill[i]`: after kill i); `other`: repeats no kill explains. */
export interface Charges {
  perKill: number[]
  other: number
}

export class RetransferLedger {
  private readonly sessionFile = new Map<string, string>()
  private timer?: NodeJS.Timeout

  constructor(private readonly db: string) {}

  /** Poll the run's checkpoints (upload location → file) until `stop()`. */
  watch(): void {
    this.stop()
    this.timer = setInterval(() => this.poll(), 20)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.poll()
  }

  /**
   * What each kill cost in re-uploaded bytes. `attempts[i]` holds the proxy
   * records of attempt i, which kill i ended (the last attempt ran to the
   * end). A session never checkpointed nor committed is charged in full to the
   * kill that ended its attempt: its bytes are sent again from byte 0.
   */
  reuploads(attempts: ProxyRequestRecord[][]): Charges {
    const committed = new Set(
      attempts
        .flat()
        .filter((r) => r.method === 'PUT' && r.status === 201)
        .map((r) => sessionId(r.url)),
    )
    return chargeRepeats(
      attempts.map((records) =>
        records
          .filter((r) => r.method === 'PATCH')
          .flatMap((r): Piece[] => {
            const uuid = sessionId(r.url)
            const start = /^(\d+)-/.exec(String(r.headers['content-range'] ?? ''))
            const file = uuid && this.sessionFile.get(uuid)
            if (file && start) return [{file, start: Number(start[1]), bytes: r.requestBytes}]
            if (uuid && committed.has(uuid)) return [] // a fresh upload of a file too small to be seen checkpointed
            return [{bytes: r.requestBytes}]
          }),
      ),
    )
  }

  private poll(): void {
    if (!existsSync(this.db)) return
    let conn: Database.Database | undefined
    try {
      conn = new Database(this.db, {readonly: true, fileMustExist: true})
      const rows = conn.prepare('SELECT path, upload_location FROM run_files WHERE upload_location IS NOT NULL').all() as Array<{
        path: string
        upload_location: string
      }>
      for (const row of rows) {
        const uuid = sessionId(row.upload_location)
        if (uuid) this.sessionFile.set(uuid, row.path)
      }
    } catch {
      // the database may be mid-migration or locked for a moment: poll again
    } finally {
      conn?.close()
    }
  }
}

function sessionId(url: string): string | undefined {
  return /\/blobs\/uploads\/([^/?#]+)/.exec(url)?.[1]
}

function overlap(have: Interval[], [a, b]: Interval): number {
  let n = 0
  for (const [x, y] of have) n += Math.max(0, Math.min(b, y) - Math.max(a, x))
  return n
}

function union(have: Interval[], piece: Interval): Interval[] {
  const all = [...have, piece].filter(([a, b]) => b > a).sort((p, q) => p[0] - q[0])
  const out: Interval[] = []
  for (const [a, b] of all) {
    const last = out.at(-1)
    if (last && a <= last[1]) last[1] = Math.max(last[1], b)
    else out.push([a, b])
  }
  return out
}

/** What each kill cost in bytes read again from the Hub, from the simulator's records of each attempt. */
export function hubRereads(attempts: RecordedRequest[][]): Charges {
  return chargeRepeats(
    attempts.map((records) =>
      records.flatMap((r) => (r.served ? [{file: r.served.path, start: r.served.start, bytes: r.served.bytes}] : [])),
    ),
  )
}

/**
 * A byte moved again in attempt i is charged to kill i - 1 (in attempt 0: to
 * `other`); a piece of unknown file is all charged to the kill ending its attempt.
 */
function chargeRepeats(attempts: Piece[][]): Charges {
  const perKill = attempts.map(() => 0)
  let other = 0
  const moved = new Map<string, Interval[]>()
  attempts.forEach((pieces, i) => {
    for (const p of pieces) {
      if (p.file === undefined || p.start === undefined) {
        if (i < attempts.length - 1) perKill[i] += p.bytes
        else other += p.bytes
        continue
      }
      const piece: Interval = [p.start, p.start + p.bytes]
      const have = moved.get(p.file) ?? []
      const again = overlap(have, piece)
      if (i > 0) perKill[i - 1] += again
      else other += again
      moved.set(p.file, union(have, piece))
    }
  })
  return {perKill: perKill.slice(0, -1), other}
}

/** Files this attempt (started at `since`, ms) was uploading and had not finished. */
export function filesInFlight(db: string, since: number): number {
  return query<{n: number}>(db, `SELECT count(*) AS n FROM run_files WHERE status = 'uploading' AND updated_at >= ${Number(since)}`).n
}

/** Layer bytes the run's state says the registry acknowledged: finished files, and checkpoints. */
export function acknowledgedBytes(db: string): number {
  return query<{n: number}>(
    db,
    `SELECT COALESCE(SUM(CASE WHEN status = 'done' THEN layer_size ELSE COALESCE(upload_offset, 0) END), 0) AS n FROM run_files`,
  ).n
}

function query<T>(db: string, sql: string): T {
  const conn = new Database(db, {readonly: true, fileMustExist: true})
  try {
    return conn.prepare(sql).get() as T
  } finally {
    conn.close()
  }
}
