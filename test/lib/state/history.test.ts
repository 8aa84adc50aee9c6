import {expect} from 'chai'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {UsageError} from '../../../src/lib/errors.js'
import {openStateDb} from '../../../src/lib/state/db.js'
import {listRuns, runStatus} from '../../../src/lib/state/history.js'
import {detail, effectiveStatus, summarize} from '../../../src/lib/state/report.js'
import {RunStore} from '../../../src/lib/state/runs.js'
import {newRun, tempDir} from './temp-db.js'

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5)

/** A database with four runs: done, failed, running (alive owner) and running (dead owner). */
function history() {
  const stateDb = join(tempDir(), 'state.db')
  const db = openStateDb(stateDb)
  const runs = new RunStore(db)
  const done = runs.create(newRun({hfRepo: 'org/a', targetRepo: 'models/a'}))
  runs.setPlan(done, {sha: 'a'.repeat(40), tag: 't', files: [{path: 'w.bin', size: 100, layerSize: 2048, oid: 'o'}]})
  runs.fileDone(done, 'w.bin', {digest: 'sha256:1', size: 2048, contentSha256: 'c'})
  runs.finish(done, 'done', {manifestDigest: `sha256:${'9'.repeat(64)}`})
  runs.write('UPDATE runs SET started_at = ?, finished_at = ? WHERE id = ?', T0, T0 + 61_500, done)
  const failed = runs.create(newRun({hfRepo: 'org/b', targetRepo: 'models/b'}))
  runs.setPlan(failed, {
    sha: 'b'.repeat(40),
    tag: 't',
    files: [
      {path: 'x.bin', size: 10, layerSize: 1536, oid: 'o1'},
      {path: 'y.bin', size: 10, layerSize: 1536, oid: 'o2'},
      {path: 'z.bin', size: 10, layerSize: 1536, oid: 'o3'},
    ],
  })
  runs.checkpoint(failed, 'x.bin', {location: new URL('http://r/u'), offset: 512})
  runs.fileFailed(failed, 'y.bin', 'HTTP 500')
  runs.finish(failed, 'failed', {error: '1 file failed'})
  const alive = runs.create(newRun({hfRepo: 'org/a', targetRepo: 'models/c'}))
  runs.write('UPDATE runs SET owner_pid = ? WHERE id = ?', process.ppid, alive)
  // Created by this process, which is not pushing it: its owner is gone.
  const dead = runs.create(newRun({hfRepo: 'org/d', targetRepo: 'models/d'}))
  db.close()
  return {stateDb, done, failed, alive, dead}
}

describe('state/history and state/report', () => {
  it('lists runs newest first with their effective status', () => {
    const h = history()
    const {runs} = listRuns({stateDb: h.stateDb, limit: 20})
    expect(runs.map((r) => [r.id, r.status])).to.deep.equal([
      [h.dead, 'interrupted'],
      [h.alive, 'running'],
      [h.failed, 'failed'],
      [h.done, 'done'],
    ])
    expect(runs[1].owner).to.deep.equal({pid: process.ppid, host: hostname()})
    expect(runs[0].owner).to.equal(undefined)
  })

  it('filters by repo, status (a dead owner counts as interrupted) and limit', () => {
    const h = history()
    const ids = (p: Partial<Parameters<typeof listRuns>[0]>) => listRuns({stateDb: h.stateDb, limit: 20, ...p}).runs.map((r) => r.id)
    expect(ids({repo: 'org/a'})).to.deep.equal([h.alive, h.done])
    expect(ids({status: 'interrupted'})).to.deep.equal([h.dead])
    expect(ids({status: 'running'})).to.deep.equal([h.alive])
    expect(ids({status: 'done'})).to.deep.equal([h.done])
    expect(ids({limit: 2})).to.deep.equal([h.dead, h.alive])
  })

  it('summarizes a finished run', () => {
    const h = history()
    const [summary] = listRuns({stateDb: h.stateDb, status: 'done', limit: 1}).runs
    expect(summary).to.deep.include({
      id: h.done,
      status: 'done',
      hfRepo: 'org/a',
      revision: 'main',
      sha: 'a'.repeat(40),
      target: 'localhost:5000/models/a:t',
      manifestDigest: `sha256:${'9'.repeat(64)}`,
      files: 1,
      bytesTotal: 2048,
      attempts: 1,
      startedAt: '2026-01-02T03:04:05.000Z',
      finishedAt: '2026-01-02T03:05:06.500Z',
      durationSeconds: 61.5,
      error: null,
    })
  })

  it('shows unfinished runs in detail, file by file, with how to resume', () => {
    const h = history()
    const {runs} = runStatus({stateDb: h.stateDb})
    expect(runs.map((r) => r.id)).to.deep.equal([h.dead, h.alive, h.failed])
    const failed = runs[2]
    expect(failed.fileStates.map((f) => [f.path, f.state, f.bytesDone, f.error])).to.deep.equal([
      ['x.bin', 'in progress', 512, null],
      ['y.bin', 'failed', 0, 'HTTP 500'],
      ['z.bin', 'pending', 0, null],
    ])
    expect(failed).to.include({bytesDone: 512, bytesLeft: 4096, resumeCommand: `modelcar resume ${h.failed}`, error: '1 file failed'})
    expect(runs[0].resumeCommand).to.equal(`modelcar resume ${h.dead}`)
    expect(runs[1].resumeCommand).to.equal(null)
  })

  it('shows one run by id, done or not, and refuses an unknown id', () => {
    const h = history()
    const [done] = runStatus({stateDb: h.stateDb, runId: h.done}).runs
    expect(done).to.include({status: 'done', bytesDone: 2048, bytesLeft: 0, resumeCommand: null})
    expect(done.fileStates).to.deep.equal([
      {path: 'w.bin', state: 'done', size: 100, layerSize: 2048, bytesDone: 2048, digest: 'sha256:1', error: null},
    ])
    let error: unknown
    try {
      runStatus({stateDb: h.stateDb, runId: 999})
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(UsageError)
    expect(error).to.include({code: 'E_NO_RUN', message: 'Run 999 does not exist: see `modelcar list`.'})
  })

  it('computes the same models straight from rows', () => {
    const h = history()
    const db = openStateDb(h.stateDb)
    const runs = new RunStore(db)
    expect(effectiveStatus(runs.get(h.dead)!)).to.equal('interrupted')
    expect(effectiveStatus(runs.get(h.alive)!)).to.equal('running')
    expect(detail(runs, runs.get(h.done)!)).to.deep.include(summarize(runs.get(h.done)!))
    db.close()
  })

  it('never shows a user or password a recorded error quotes in a URL', () => {
    const stateDb = join(tempDir(), 'state.db')
    const db = openStateDb(stateDb)
    const runs = new RunStore(db)
    const id = runs.create(newRun())
    runs.setPlan(id, {sha: 'a'.repeat(40), tag: 't', files: [{path: 'w.bin', size: 1, layerSize: 1536, oid: 'o'}]})
    runs.fileFailed(id, 'w.bin', 'PATCH http://up:l04d@storage.example:9000/up?x=1 answered 500')
    runs.finish(id, 'failed', {error: 'redirected to https://user:p@ss@cdn.example/blob and HTTPS://a@b/c'})
    db.close()
    const [run] = runStatus({stateDb, runId: id}).runs
    expect(run.error).to.equal('redirected to https://***@cdn.example/blob and HTTPS://***@b/c')
    expect(run.fileStates[0].error).to.equal('PATCH http://***@storage.example:9000/up?x=1 answered 500')
    expect(listRuns({stateDb, limit: 1}).runs[0].error).to.equal(run.error)
  })
})
