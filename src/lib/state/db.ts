// The state database: one SQLite file (WAL) holding runs, their files and
// upload checkpoints, and the history of every blob pushed. Schema changes are
// migrations numbered by PRAGMA user_version, applied in one immediate
// transaction so two processes never migrate at once.
import Database from 'better-sqlite3'
import {chmodSync, closeSync, mkdirSync, openSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {UsageError} from '../errors.js'

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

export function openStateDb(path: string): DB {
  let db: DB
  try {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    // Create the file 0600 before SQLite does (it would honour the umask).
    closeSync(openSync(path, 'a', 0o600))
    chmodSync(path, 0o600)
    db = new Database(path, {timeout: 5000})
  } catch (error) {
    throw new UsageError(`Cannot open the state database ${path} (${(error as Error).message}): pass a writable path with --state-db or MODELCAR_STATE_DB.`, 'E_STATE_DB')
  }
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  migrate(db)
  return db
}

function migrate(db: DB): void {
  db.transaction(() => {
    const version = db.pragma('user_version', {simple: true}) as number
    if (version > MIGRATIONS.length) {
      throw new UsageError(`The state database was written by a newer modelcar (schema ${version}): upgrade modelcar or use another --state-db.`, 'E_STATE_DB')
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v])
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  }).immediate()
}
