// The state database: one SQLite file (WAL) holding runs, their files and
// upload checkpoints, and the history of every blob pushed. Schema changes are
// migrations numbered by PRAGMA user_version, applied in one immediate
// transaction so two processes never migrate at once.
import Database from 'better-sqlite3'
import {chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {EXIT, ModelcarError, UsageError} from '../errors.js'

export type DB = Database.Database

const MIGRATIONS: string[] = [
  // 1: runs, files, blob history
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     status TEXT NOT NULL,              -- running | done | failed | interrupted
     hf_endpoint TEXT NOT NULL,
     hf_repo TEXT NOT NULL,
     hf_revision TEXT NOT NULL,
     hf_sha TEXT,
     registry TEXT NOT NULL,            -- as the user wrote it (with scheme if given)
     target_repo TEXT NOT NULL,
     target_tag TEXT,
     params TEXT NOT NULL,              -- JSON of the push flags, never secrets
     manifest_digest TEXT,
     files_total INTEGER NOT NULL DEFAULT 0,
     bytes_total INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     owner_pid INTEGER,
     owner_host TEXT,
     started_at INTEGER NOT NULL,       -- ms since epoch
     updated_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE TABLE run_files (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     path TEXT NOT NULL,
     size INTEGER NOT NULL,
     layer_size INTEGER NOT NULL,
     oid TEXT NOT NULL,
     lfs_sha256 TEXT,
     status TEXT NOT NULL,              -- pending | uploading | done | failed
     layer_digest TEXT,
     content_sha256 TEXT,
     bytes_done INTEGER NOT NULL DEFAULT 0,
     upload_location TEXT,
     upload_offset INTEGER,
     hash_state BLOB,
     error TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (run_id, path)
   );
   CREATE TABLE blobs (
     registry TEXT NOT NULL,
     repository TEXT NOT NULL,
     digest TEXT NOT NULL,
     size INTEGER NOT NULL,
     source_key TEXT NOT NULL,          -- what determines the layer bytes: path + content id
     hf_repo TEXT,
     hf_sha TEXT,
     path TEXT,
     content_sha256 TEXT,
     pushed_at INTEGER NOT NULL,
     PRIMARY KEY (registry, repository, digest)
   );
   CREATE INDEX blobs_by_source ON blobs(source_key);
   CREATE INDEX runs_by_status ON runs(status, started_at);`,
  // 2: the lock's heartbeat (for owners on other hosts) and transfer counters
  `ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
   ALTER TABLE runs ADD COLUMN bytes_uploaded INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN bytes_reread INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE runs ADD COLUMN push_key TEXT;
   CREATE INDEX runs_by_push_key ON runs(push_key, status);`,
  // 3: upload modes learnt per registry (a registry that refused chunked PATCHes)
  `CREATE TABLE registry_modes (
     registry TEXT PRIMARY KEY,         -- scheme://host
     mode TEXT NOT NULL,                -- stream | monolithic
     reason TEXT NOT NULL,
     learned_at INTEGER NOT NULL
   );`,
]

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELCAR_STATE_DB) return env.MODELCAR_STATE_DB
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(stateHome, 'modelcar', 'state.db')
}

/**
 * The database for a command that records (push, resume, forget, prune). A
 * file that cannot be opened, is damaged, read-only or on a full disk is a
 * one-line StateDbError naming the file and the way out.
 */
export function openStateDb(path: string): DB {
  try {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    // Create the file 0600 before SQLite does (it would honour the umask).
    closeSync(openSync(path, 'a', 0o600))
    chmodSync(path, 0o600)
  } catch (error) {
    throw stateDbError(path, error, 'open')
  }
  return openChecked(path, path, {wal: true})
}

/**
 * `file` (the state database at `path`, or a private copy of it) opened at
 * the current schema and checked; its failures name `path`.
 */
function openChecked(path: string, file: string, opts: {wal: boolean}): DB {
  let db: DB | undefined
  try {
    db = new Database(file, {timeout: 5000})
    if (opts.wal) {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
    }
    db.pragma('foreign_keys = ON')
    migrate(db)
    checkIntact(db)
    return db
  } catch (error) {
    db?.close()
    throw stateDbError(path, error, 'open')
  }
}

/** A database opened for reading only; close() also removes any snapshot behind it. */
export interface ReadableStateDb {
  db: DB
  /** True when the file could not be written and a snapshot of it is read. */
  snapshot: boolean
  close(): void
}

/**
 * The database for a command that only reads (list, status). A file that
 * cannot be written (read-only file or disk) is still read: SQLite cannot open
 * a WAL database read-only without creating its shared-memory file, so a
 * private copy is read instead, migrated to the current schema.
 */
export function openStateDbForReading(path: string): ReadableStateDb {
  try {
    const db = openStateDb(path)
    return {db, snapshot: false, close: () => db.close()}
  } catch (error) {
    if (!(error instanceof StateDbError && error.reason === 'read-only' && existsSync(path))) throw error
  }
  const dir = mkdtempSync(join(tmpdir(), 'modelcar-state-'))
  const remove = () => rmSync(dir, {recursive: true, force: true})
  try {
    const copy = join(dir, 'state.db')
    copyFileSync(path, copy)
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`)
    // The copies keep the original's mode (0400 perhaps): the snapshot itself must be writable.
    for (const f of [copy, `${copy}-wal`]) if (existsSync(f)) chmodSync(f, 0o600)
    const db = openChecked(path, copy, {wal: false})
    return {
      db,
      snapshot: true,
      close: () => {
        db.close()
        remove()
      },
    }
  } catch (error) {
    remove()
    throw error instanceof StateDbError ? error : stateDbError(path, error, 'open')
  }
}

/** Run `fn` in an immediate transaction; SQLite's failures become StateDbErrors naming the file. */
export function writeTx<T>(db: DB, fn: () => T): T {
  try {
    return db.transaction(fn).immediate()
  } catch (error) {
    throw stateDbError(db.name, error, 'write')
  }
}

export type StateDbProblem = 'damaged' | 'read-only' | 'full' | 'unopenable' | 'io'

/** The state database failed: which file, what happened, and the way out. */
export class StateDbError extends ModelcarError {
  constructor(
    readonly path: string,
    readonly reason: StateDbProblem,
    message: string,
    cause: unknown,
    exitCode: number,
  ) {
    super(message, {code: 'E_STATE_DB', exitCode, cause})
    this.name = 'StateDbError'
  }
}

/**
 * What an error from opening or writing the database means for the user.
 * Failures at open stop the command before it does anything (exit 2); a write
 * that fails mid-push is a failure of the work (exit 1). ModelcarErrors pass.
 */
export function stateDbError(path: string, error: unknown, when: 'open' | 'write'): unknown {
  if (error instanceof ModelcarError) return error
  const raw = (error as {code?: unknown})?.code
  const code = typeof raw === 'string' ? raw : ''
  const detail = (error as Error)?.message ?? String(error)
  const exit = when === 'open' ? EXIT.usage : EXIT.failure
  const elsewhere = 'or pass another file with --state-db or MODELCAR_STATE_DB'
  const make = (reason: StateDbProblem, message: string) => new StateDbError(path, reason, message, error, exit)
  if (/^SQLITE_(NOTADB|CORRUPT)/.test(code)) {
    const aside = `move it aside (mv ${path} ${path}.broken) to start a new history`
    return make('damaged', `The state database ${path} is damaged (${detail}): ${aside}, ${elsewhere}.`)
  }
  if (/^SQLITE_READONLY/.test(code) || (['EROFS', 'EACCES', 'EPERM'].includes(code) && existsSync(path))) {
    const what = when === 'open' ? 'modelcar cannot record runs in it' : 'modelcar could not record this run'
    return make('read-only', `The state database ${path} is read-only (${detail}): ${what}; make it writable, ${elsewhere}.`)
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return make('full', `The disk holding the state database ${path} is full (${detail}): free some space, ${elsewhere} on another disk.`)
  }
  if (/^SQLITE_IOERR/.test(code) || code === 'EIO') {
    return make('io', `The state database ${path} could not be read or written (${code}: ${detail}): check the disk, ${elsewhere}.`)
  }
  if (when === 'open') {
    return make(
      'unopenable',
      `Cannot open the state database ${path} (${detail}): pass a writable path with --state-db or MODELCAR_STATE_DB.`,
    )
  }
  return error
}

/**
 * A truncated or overwritten file can open fine and fail on the first read of
 * a lost page: quick_check reads every page once (milliseconds for a state
 * database) so the damage is reported at open, not halfway through a push.
 */
function checkIntact(db: DB): void {
  const result = db.pragma('quick_check(1)', {simple: true})
  if (result !== 'ok') throw Object.assign(new Error(`quick_check: ${String(result)}`), {code: 'SQLITE_CORRUPT'})
}

function migrate(db: DB): void {
  db.transaction(() => {
    const version = db.pragma('user_version', {simple: true}) as number
    if (version > MIGRATIONS.length) {
      throw new UsageError(
        `The state database was written by a newer modelcar (schema ${version}): upgrade modelcar or use another --state-db.`,
        'E_STATE_DB',
      )
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v])
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  }).immediate()
}
