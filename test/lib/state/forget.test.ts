import {expect} from 'chai'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {EXIT, UsageError} from '../../../src/lib/errors.js'
import {BlobStore} from '../../../src/lib/state/blobs.js'
import {openStateDb} from '../../../src/lib/state/db.js'
import {forgetRuns, parseAge, pruneRuns} from '../../../src/lib/state/forget.js'
import {RunLockedError} from '../../../src/lib/state/lock.js'
import {RunStore, type RunStatus} from '../../../src/lib/state/runs.js'
import {renderForget, renderPrune} from '../../../src/lib/ui/forget-render.js'
import {newRun, tempDir} from './temp-db.js'

const DAY = 86_400_000
const NOW = Date.UTC(2026, 5, 1)

/** Runs with a status, an age in days and an owner; each with two file rows, plus one blob record. */
function history(specs: Array<{status: RunStatus; days: number; owner?: number}>) {
  const stateDb = join(tempDir(), 'state.db')
  const db = openStateDb(stateDb)
  const runs = new RunStore(db)
  const ids = specs.map((s, i) => {
    const id = runs.create(newRun({hfRepo: `org/m${i}`, targetRepo: `models/m${i}`}))
    const file = (path: string) => ({path, size: 1, layerSize: 1536, oid: 'o'})
    runs.setPlan(id, {sha: 'a'.repeat(40), tag: 't', files: [file('a'), file('b')]})
    if (s.status !== 'running') runs.finish(id, s.status)
    const at = NOW - s.days * DAY
    runs.write(
      `UPDATE runs SET owner_pid = ?, owner_host = ?, updated_at = ?,
         finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END WHERE id = ?`,
      s.owner ?? null,
      s.owner === undefined ? null : hostname(),
      at,
      at,
      id,
    )
    return id
  })
  new BlobStore(db).record({registry: 'r', repository: 'p', digest: 'sha256:1', size: 1, sourceKey: 'k'})
  db.close()
  const count = (sql: string) => {
    const d = openStateDb(stateDb)
    try {
      return (d.prepare(sql).get() as {n: number}).n
    } finally {
      d.close()
    }
  }
  return {stateDb, ids, count}
}

function catchError(fn: () => unknown): Error & {code?: string; exitCode?: number} {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error')
}

describe('state/forget: forget and prune', () => {
  it('forgets runs and their file rows, keeps the others and the blob history', () => {
    const h = history([
      {status: 'done', days: 1},
      {status: 'failed', days: 1},
      {status: 'done', days: 1},
    ])
    const result = forgetRuns({stateDb: h.stateDb, runIds: [h.ids[0], h.ids[1], h.ids[0]]})
    expect(result.runs.map((r) => [r.id, r.status, r.files])).to.deep.equal([
      [h.ids[0], 'done', 2],
      [h.ids[1], 'failed', 2],
    ])
    expect(h.count('SELECT count(*) AS n FROM runs')).to.equal(1)
    expect(h.count('SELECT count(*) AS n FROM run_files')).to.equal(2)
    expect(h.count('SELECT count(*) AS n FROM blobs')).to.equal(1)
    expect(renderForget(result)).to.equal(
      [
        `Forgot run ${h.ids[0]} (done, org/m0 → localhost:5000/models/m0:t, 2 files)`,
        `Forgot run ${h.ids[1]} (failed, org/m1 → localhost:5000/models/m1:t, 2 files)`,
      ].join('\n'),
    )
  })

  it('changes nothing when one id is unknown (exit 2) or one run is held by a live process (exit 3)', () => {
    const h = history([
      {status: 'done', days: 1},
      {status: 'running', days: 0, owner: process.ppid},
    ])
    const unknown = catchError(() => forgetRuns({stateDb: h.stateDb, runIds: [h.ids[0], 99]}))
    expect(unknown).to.be.instanceOf(UsageError)
    expect(unknown).to.include({code: 'E_NO_RUN', exitCode: EXIT.usage})
    expect(unknown.message).to.equal('No run 99 in the history: see `modelcar list`. Nothing was forgotten.')
    const locked = catchError(() => forgetRuns({stateDb: h.stateDb, runIds: [h.ids[0], h.ids[1]]}))
    expect(locked).to.be.instanceOf(RunLockedError)
    expect(locked).to.include({exitCode: EXIT.locked})
    expect(locked.message).to.equal(
      `Run ${h.ids[1]} is being pushed by process ${process.ppid} on ${hostname()}: ` +
        'wait for it to finish, or stop that process and run the command again.',
    )
    expect(h.count('SELECT count(*) AS n FROM runs')).to.equal(2)
  })

  it('forgets a run whose owner died (interrupted)', () => {
    const h = history([{status: 'running', days: 0, owner: 2 ** 22 + 12_345}])
    expect(forgetRuns({stateDb: h.stateDb, runIds: h.ids}).runs[0].status).to.equal('interrupted')
  })

  it('prunes done and failed runs older than the cutoff by default, never running or recent ones', () => {
    const h = history([
      {status: 'done', days: 40},
      {status: 'failed', days: 31},
      {status: 'done', days: 29},
      {status: 'interrupted', days: 90},
      {status: 'running', days: 90, owner: process.ppid},
    ])
    const result = pruneRuns({stateDb: h.stateDb, olderThanMs: 30 * DAY, now: NOW})
    expect(result.runs.map((r) => r.id)).to.deep.equal([h.ids[0], h.ids[1]])
    expect(renderPrune(result).split('\n').at(-1)).to.equal('Pruned 2 runs (done or failed runs older than 30d).')
    expect(h.count('SELECT count(*) AS n FROM run_files')).to.equal(6)
    const again = pruneRuns({stateDb: h.stateDb, olderThanMs: 30 * DAY, now: NOW})
    expect(renderPrune(again)).to.equal('Nothing to prune: no done or failed runs older than 30d.')
  })

  it('prunes one status: interrupted includes runs whose process died, never a live one', () => {
    const h = history([
      {status: 'interrupted', days: 10},
      {status: 'running', days: 10, owner: 2 ** 22 + 12_345},
      {status: 'running', days: 10, owner: process.ppid},
      {status: 'failed', days: 10},
    ])
    const result = pruneRuns({stateDb: h.stateDb, status: 'interrupted', olderThanMs: 7 * DAY, now: NOW})
    expect(result.runs.map((r) => [r.id, r.status])).to.deep.equal([
      [h.ids[0], 'interrupted'],
      [h.ids[1], 'interrupted'],
    ])
    expect(renderPrune(result).split('\n').at(-1)).to.equal('Pruned 2 runs (interrupted runs older than 1w).')
  })

  it('reads ages as a number and a unit', () => {
    expect(['30d', '12h', '90m', '2w', '45s', '0d'].map((a) => parseAge(a))).to.deep.equal([
      30 * DAY,
      12 * 3_600_000,
      90 * 60_000,
      14 * DAY,
      45_000,
      0,
    ])
    for (const bad of ['', '30', 'd', '-1d', '1.5d', '30 days', '1y']) {
      expect(() => parseAge(bad), bad).to.throw(
        UsageError,
        /^Invalid --older-than ".*": give a number and a unit, e\.g\. 30d, 12h, 90m, 2w or 45s\.$/,
      )
    }
  })
})
