// A state database that is damaged, read-only or on a full disk: one-line
// errors that name the file and the way out; list and status still read a
// database they cannot write.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {EXIT} from '../../../src/lib/errors.js'
import {openStateDb, openStateDbForReading, StateDbError} from '../../../src/lib/state/db.js'
import {listRuns, runStatus} from '../../../src/lib/state/history.js'
import {RunStore} from '../../../src/lib/state/runs.js'
import {newRun, tempDir} from './temp-db.js'

function catchError(fn: () => unknown): StateDbError {
  try {
    fn()
  } catch (error) {
    return error as StateDbError
  }
  throw new Error('expected an error')
}

/** A database with `n` runs, each with a few files (enough pages to truncate). */
function filled(path: string, n = 40): void {
  const db = openStateDb(path)
  const runs = new RunStore(db)
  for (let i = 0; i < n; i++) {
    const id = runs.create(newRun({hfRepo: `org/m${i}`}))
    const files = Array.from({length: 20}, (_, j) => ({path: `f${j}-${'x'.repeat(80)}`, size: 1, layerSize: 1536, oid: 'o'}))
    runs.setPlan(id, {sha: 'a'.repeat(40), tag: 't', files})
  }
  db.close()
}

/** A tmpfs of `size` at a fresh directory; skips the test with a hint when mounting is not allowed. */
function tmpfs(ctx: Mocha.Context, size: string): {dir: string; readOnly(): void; cleanup(): void} {
  const dir = join(tempDir(), 'mnt')
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], {stdio: 'pipe'})
  } catch {
    ctx.skip() // needs root and mount(8): run as root to cover it
  }
  return {
    dir,
    readOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir], {stdio: 'pipe'}),
    // Lazy: a file handle SQLite keeps after a failed open must not leave the mount behind.
    cleanup: () => execFileSync('umount', ['-l', dir], {stdio: 'pipe'}),
  }
}

describe('state/db failures', () => {
  it('names a garbage file as damaged and says to move it aside', () => {
    const path = join(tempDir(), 'state.db')
    writeFileSync(path, 'not a database at all\n'.repeat(500))
    const error = catchError(() => openStateDb(path))
    expect(error).to.be.instanceOf(StateDbError)
    expect(error).to.include({code: 'E_STATE_DB', exitCode: EXIT.usage, reason: 'damaged'})
    expect(error.message).to.equal(
      `The state database ${path} is damaged (file is not a database): move it aside (mv ${path} ${path}.broken) to start a new history, ` +
        'or pass another file with --state-db or MODELCAR_STATE_DB.',
    )
    expect(readFileSync(path, 'utf8').startsWith('not a database')).to.equal(true) // left as it was
  })

  it('finds a truncated file damaged when it is opened, for list and status too', () => {
    const path = join(tempDir(), 'state.db')
    filled(path)
    truncateSync(path, 16_384)
    for (const open of [() => openStateDb(path), () => listRuns({stateDb: path, limit: 20}), () => runStatus({stateDb: path})]) {
      const error = catchError(open)
      expect(error).to.be.instanceOf(StateDbError)
      expect(error.reason).to.equal('damaged')
      expect(error.message).to.match(new RegExp(`^The state database ${path} is damaged \\(.+\\): move it aside`))
      expect(error.message).to.not.include('\n')
    }
  })

  it('reads a database on a read-only disk for list and status; a writer is told it cannot record', function () {
    const fs = tmpfs(this, '1m')
    try {
      const path = join(fs.dir, 'state.db')
      filled(path, 3)
      fs.readOnly()
      const error = catchError(() => openStateDb(path))
      expect(error).to.include({reason: 'read-only', exitCode: EXIT.usage})
      expect(error.message).to.match(
        new RegExp(
          `^The state database ${path} is read-only \\(.+\\): modelcar cannot record runs in it; ` +
            'make it writable, or pass another file with --state-db or MODELCAR_STATE_DB\\.$',
        ),
      )
      expect(listRuns({stateDb: path, limit: 20}).runs.map((r) => r.hfRepo)).to.deep.equal(['org/m2', 'org/m1', 'org/m0'])
      expect(runStatus({stateDb: path, runId: 2}).runs[0].fileStates).to.have.length(20)
      const snap = openStateDbForReading(path)
      expect(snap.snapshot).to.equal(true)
      snap.close()
    } finally {
      fs.cleanup()
    }
  })

  it('says the disk is full when a write cannot find space, naming the file', function () {
    const fs = tmpfs(this, '256k')
    try {
      const path = join(fs.dir, 'state.db')
      const db = openStateDb(path)
      const runs = new RunStore(db)
      const id = runs.create(newRun())
      const error = catchError(() => {
        for (let i = 0; i < 1000; i++) runs.fileFailed(id, 'x', 'e'.repeat(4096 + i))
        const files = Array.from({length: 500}, (_, j) => ({path: `f${j}${'y'.repeat(400)}`, size: 1, layerSize: 1, oid: 'o'}))
        runs.setPlan(id, {sha: 'a'.repeat(40), tag: 't', files})
      })
      expect(error).to.be.instanceOf(StateDbError)
      expect(error).to.include({reason: 'full', exitCode: EXIT.failure})
      expect(error.message).to.match(
        new RegExp(
          `^The disk holding the state database ${path} is full \\(.+\\): free some space, ` +
            'or pass another file with --state-db or MODELCAR_STATE_DB on another disk\\.$',
        ),
      )
      try {
        db.close()
      } catch {
        // closing checkpoints the WAL, which may fail on the full disk too
      }
    } finally {
      fs.cleanup()
    }
  })
})
