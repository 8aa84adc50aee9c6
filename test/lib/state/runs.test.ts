import {expect} from 'chai'
import {hostname} from 'node:os'
import {RunStore} from '../../../src/lib/state/runs.js'
import {newRun, storeWithRun, tempDb} from './temp-db.js'

const plan = {
  sha: 'd'.repeat(40),
  tag: 'v2',
  files: [
    {path: 'b.bin', size: 10, layerSize: 2048, oid: 'o1', lfsSha256: 'e'.repeat(64)},
    {path: 'a.json', size: 3, layerSize: 1536, oid: 'o2'},
  ],
}

describe('state/runs', () => {
  it('creates a running run owned by this process, with its parameters', () => {
    const {runs, id} = storeWithRun()
    const run = runs.get(id)!
    expect(run).to.include({
      status: 'running',
      push_key: 'key-1',
      hf_repo: 'org/model',
      hf_revision: 'main',
      registry: 'localhost:5000',
      target_repo: 'models/m',
      target_tag: 'v1',
      owner_pid: process.pid,
      owner_host: hostname(),
      attempts: 1,
      finished_at: null,
    })
    expect(JSON.parse(run.params)).to.deep.equal({workers: 4})
    expect(runs.get(id + 1)).to.equal(undefined)
  })

  it('records the plan once: files pending in path order, totals on the run', () => {
    const {runs, id} = storeWithRun()
    runs.setPlan(id, plan)
    runs.setPlan(id, {...plan, files: [plan.files[0]]})
    expect(runs.get(id)).to.include({hf_sha: 'd'.repeat(40), target_tag: 'v2', files_total: 1, bytes_total: 2048})
    expect(runs.files(id).map((f) => [f.path, f.status, f.layer_size, f.lfs_sha256])).to.deep.equal([
      ['a.json', 'pending', 1536, null],
      ['b.bin', 'pending', 2048, 'e'.repeat(64)],
    ])
  })

  it('follows a file from uploading through checkpoints to done, and keeps the last hash state', () => {
    const {runs, id} = storeWithRun()
    runs.setPlan(id, plan)
    runs.fileUploading(id, 'b.bin')
    runs.checkpoint(id, 'b.bin', {location: new URL('http://r/u/1'), offset: 512, hashState: Buffer.from('s1')})
    runs.checkpoint(id, 'b.bin', {location: new URL('http://r/u/1?b'), offset: 1024})
    expect(runs.file(id, 'b.bin')).to.include({
      status: 'uploading',
      upload_location: 'http://r/u/1?b',
      upload_offset: 1024,
      bytes_done: 1024,
    })
    expect(runs.file(id, 'b.bin')!.hash_state!.toString()).to.equal('s1')
    runs.fileHashed(id, 'b.bin', {digest: 'sha256:l', contentSha256: 'c'})
    expect(runs.file(id, 'b.bin')).to.include({status: 'uploading', layer_digest: 'sha256:l', content_sha256: 'c'})
    runs.fileDone(id, 'b.bin', {digest: 'sha256:l', size: 2048, contentSha256: 'c'})
    expect(runs.file(id, 'b.bin')).to.include({
      status: 'done',
      bytes_done: 2048,
      upload_location: null,
      upload_offset: null,
      hash_state: null,
      error: null,
    })
  })

  it('forgets a checkpoint and records a failure', () => {
    const {runs, id} = storeWithRun()
    runs.setPlan(id, plan)
    runs.checkpoint(id, 'a.json', {location: new URL('http://r/u/2'), offset: 100, hashState: Buffer.from('s')})
    runs.clearCheckpoint(id, 'a.json')
    expect(runs.file(id, 'a.json')).to.include({upload_location: null, upload_offset: null, hash_state: null, bytes_done: 0})
    runs.fileFailed(id, 'a.json', 'HTTP 500')
    expect(runs.file(id, 'a.json')).to.include({status: 'failed', error: 'HTTP 500'})
    runs.fileUploading(id, 'a.json')
    expect(runs.file(id, 'a.json')).to.include({status: 'uploading', error: null})
  })

  it('finishes a run: done and failed get a finish time, interrupted does not; the lock is released only by its owner', () => {
    const {runs, id} = storeWithRun()
    runs.finish(id, 'interrupted', {error: 'Interrupted by SIGINT.'})
    expect(runs.get(id)).to.include({
      status: 'interrupted',
      error: 'Interrupted by SIGINT.',
      finished_at: null,
      owner_pid: null,
      owner_host: null,
    })
    runs.write('UPDATE runs SET owner_pid = ?, owner_host = ? WHERE id = ?', 1, 'elsewhere', id)
    runs.finish(id, 'done', {manifestDigest: 'sha256:m'})
    const done = runs.get(id)!
    expect(done).to.include({status: 'done', manifest_digest: 'sha256:m', error: null, owner_pid: 1, owner_host: 'elsewhere'})
    expect(done.finished_at).to.be.a('number')
    runs.finish(id, 'failed', {error: 'x'})
    expect(runs.get(id)).to.include({manifest_digest: 'sha256:m', status: 'failed'})
  })

  it('restarts a run: one more attempt, errors cleared', () => {
    const {runs, id} = storeWithRun()
    runs.finish(id, 'failed', {error: 'boom'})
    runs.restart(id)
    expect(runs.get(id)).to.include({status: 'running', error: null, attempts: 2, finished_at: null})
  })

  it('adds transfer counters and skips empty ones', () => {
    const {runs, id} = storeWithRun()
    runs.write('UPDATE runs SET updated_at = 0 WHERE id = ?', id)
    runs.addTransfer(id, 0, 0)
    expect(runs.get(id)!.updated_at).to.equal(0)
    runs.addTransfer(id, 100, 7)
    runs.addTransfer(id, 50, 0)
    expect(runs.get(id)).to.include({bytes_uploaded: 150, bytes_reread: 7})
  })

  it('finds the run to resume: same push key, newest, not done', () => {
    const {db} = tempDb()
    const runs = new RunStore(db)
    const first = runs.create(newRun())
    const second = runs.create(newRun())
    const other = runs.create(newRun({pushKey: 'key-2'}))
    expect(runs.findResumable('key-1')!.id).to.equal(second)
    runs.finish(second, 'done')
    expect(runs.findResumable('key-1')!.id).to.equal(first)
    expect(runs.latestUnfinished()!.id).to.equal(other)
    runs.finish(first, 'done')
    runs.finish(other, 'done')
    expect(runs.findResumable('key-1')).to.equal(undefined)
    expect(runs.latestUnfinished()).to.equal(undefined)
  })

  it('lists newest first, by Hub repo or target repository, status, unfinished and limit', () => {
    const {db} = tempDb()
    const runs = new RunStore(db)
    const a = runs.create(newRun({hfRepo: 'org/a', targetRepo: 'models/a'}))
    const b = runs.create(newRun({hfRepo: 'org/b', targetRepo: 'models/b'}))
    const c = runs.create(newRun({hfRepo: 'org/a', targetRepo: 'models/c'}))
    runs.finish(b, 'done')
    const ids = (filter: Parameters<RunStore['list']>[0]) => runs.list(filter).map((r) => r.id)
    expect(ids({})).to.deep.equal([c, b, a])
    expect(ids({repo: 'org/a'})).to.deep.equal([c, a])
    expect(ids({repo: 'models/b'})).to.deep.equal([b])
    expect(ids({status: 'done'})).to.deep.equal([b])
    expect(ids({unfinished: true})).to.deep.equal([c, a])
    expect(ids({limit: 1})).to.deep.equal([c])
  })
})
