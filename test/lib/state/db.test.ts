import {expect} from 'chai'
import Database from 'better-sqlite3'
import {chmodSync, statSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {UsageError} from '../../../src/lib/errors.js'
import {defaultStatePath, openStateDb} from '../../../src/lib/state/db.js'
import {tempDir} from './temp-db.js'

const columns = (db: Database.Database, table: string) => (db.pragma(`table_info(${table})`) as Array<{name: string}>).map((c) => c.name)

describe('state/db', () => {
  it('creates the file 0600 in a 0700 directory, in WAL mode, at the latest schema', () => {
    const dir = join(tempDir(), 'nested', 'modelcar')
    const db = openStateDb(join(dir, 'state.db'))
    try {
      expect(statSync(join(dir, 'state.db')).mode & 0o777).to.equal(0o600)
      expect(statSync(dir).mode & 0o777).to.equal(0o700)
      expect(db.pragma('journal_mode', {simple: true})).to.equal('wal')
      expect(db.pragma('foreign_keys', {simple: true})).to.equal(1)
      expect(db.pragma('user_version', {simple: true})).to.equal(3)
      expect(columns(db, 'runs')).to.include.members(['push_key', 'heartbeat_at', 'bytes_uploaded', 'bytes_reread', 'attempts'])
      expect(columns(db, 'registry_modes')).to.deep.equal(['registry', 'mode', 'reason', 'learned_at'])
    } finally {
      db.close()
    }
  })

  it('tightens an existing file to 0600', () => {
    const path = join(tempDir(), 'state.db')
    writeFileSync(path, '')
    chmodSync(path, 0o644)
    openStateDb(path).close()
    expect(statSync(path).mode & 0o777).to.equal(0o600)
  })

  it('migrates an older database forward and keeps its rows', () => {
    const path = join(tempDir(), 'state.db')
    openStateDb(path).close()
    // Roll the file back to schema 2: no registry_modes table yet.
    const raw = new Database(path)
    raw.exec(`DROP TABLE registry_modes; PRAGMA user_version = 2;`)
    raw.prepare(`INSERT INTO blobs (registry, repository, digest, size, source_key, pushed_at) VALUES ('r', 'p', 'd', 1, 'k', 1)`).run()
    raw.close()
    const db = openStateDb(path)
    try {
      expect(db.pragma('user_version', {simple: true})).to.equal(3)
      expect(columns(db, 'registry_modes')).to.include('mode')
      expect(db.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({n: 1})
    } finally {
      db.close()
    }
  })

  it('opens the same file again without migrating twice', () => {
    const path = join(tempDir(), 'state.db')
    openStateDb(path).close()
    const db = openStateDb(path)
    expect(db.pragma('user_version', {simple: true})).to.equal(3)
    db.close()
  })

  it('refuses a database from a newer modelcar', () => {
    const path = join(tempDir(), 'state.db')
    const raw = new Database(path)
    raw.pragma('user_version = 99')
    raw.close()
    const error = catchError(() => openStateDb(path))
    expect(error).to.be.instanceOf(UsageError)
    expect(error).to.include({code: 'E_STATE_DB', exitCode: 2})
    expect(error.message).to.equal(
      'The state database was written by a newer modelcar (schema 99): upgrade modelcar or use another --state-db.',
    )
  })

  it('says which path it cannot open and how to pass another', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    const path = join(dir, 'file', 'state.db')
    const error = catchError(() => openStateDb(path))
    expect(error).to.include({code: 'E_STATE_DB', exitCode: 2})
    expect(error.message.startsWith(`Cannot open the state database ${path} (`)).to.equal(true)
    expect(error.message.endsWith('): pass a writable path with --state-db or MODELCAR_STATE_DB.')).to.equal(true)
  })

  it('finds the default path from MODELCAR_STATE_DB, then XDG_STATE_HOME, then the home directory', () => {
    expect(defaultStatePath({MODELCAR_STATE_DB: '/x/s.db', XDG_STATE_HOME: '/y'})).to.equal('/x/s.db')
    expect(defaultStatePath({XDG_STATE_HOME: '/y'})).to.equal('/y/modelcar/state.db')
    expect(defaultStatePath({XDG_STATE_HOME: ''})).to.equal(join(homedir(), '.local', 'state', 'modelcar', 'state.db'))
  })
})

function catchError(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    return error as UsageError
  }
  throw new Error('expected an error')
}
