import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import {EXIT, ModelcarError} from '../../../src/lib/errors.js'
import {lockRun, ownerAlive, processAlive, RunLockedError, STALE_HEARTBEAT_MS} from '../../../src/lib/state/lock.js'
import {storeWithRun} from './temp-db.js'

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid
}

describe('state/lock', () => {
  it('tells live processes from dead ones', () => {
    expect(processAlive(process.pid)).to.equal(true)
    expect(processAlive(process.ppid)).to.equal(true)
    expect(processAlive(deadPid())).to.equal(false)
  })

  it('judges owners on this host by their pid, on other hosts by their heartbeat', () => {
    const now = Date.now()
    const here = {owner_host: hostname(), heartbeat_at: null}
    expect(ownerAlive({...here, owner_pid: null})).to.equal(false)
    expect(ownerAlive({...here, owner_pid: process.ppid})).to.equal(true)
    expect(ownerAlive({...here, owner_pid: deadPid()})).to.equal(false)
    // This process asking about a run it owns: it is not working on it now.
    expect(ownerAlive({...here, owner_pid: process.pid})).to.equal(false)
    const there = {owner_pid: 1, owner_host: 'another-host'}
    expect(ownerAlive({...there, heartbeat_at: now - 1000}, now)).to.equal(true)
    expect(ownerAlive({...there, heartbeat_at: now - STALE_HEARTBEAT_MS}, now)).to.equal(false)
    expect(ownerAlive({...there, heartbeat_at: null}, now)).to.equal(false)
  })

  it('takes a run whose owner is gone, and releases it', () => {
    const {runs, id} = storeWithRun()
    runs.write('UPDATE runs SET owner_pid = ?, owner_host = ? WHERE id = ?', deadPid(), hostname(), id)
    const release = lockRun(runs, id)
    expect(runs.get(id)).to.include({owner_pid: process.pid, owner_host: hostname()})
    expect(runs.get(id)!.heartbeat_at).to.be.a('number')
    release()
    expect(runs.get(id)).to.include({owner_pid: null, owner_host: null})
  })

  it('lets the process that holds the lock take it again', () => {
    const {runs, id} = storeWithRun()
    lockRun(runs, id)()
    const release = lockRun(runs, id)
    const again = lockRun(runs, id)
    expect(runs.get(id)).to.include({owner_pid: process.pid})
    again()
    release()
  })

  it('refuses a run another live process drives, and one that does not exist', () => {
    const {runs, id} = storeWithRun()
    runs.write('UPDATE runs SET owner_pid = ?, owner_host = ?, heartbeat_at = ? WHERE id = ?', 42, 'another-host', Date.now(), id)
    const locked = catchError(() => lockRun(runs, id))
    expect(locked).to.be.instanceOf(RunLockedError)
    expect(locked).to.include({code: 'E_RUN_LOCKED', exitCode: EXIT.locked})
    expect(locked.message).to.equal(
      `Run ${id} is being pushed by process 42 on another-host: wait for it to finish, or stop that process and run the command again.`,
    )
    expect(runs.get(id)).to.include({owner_pid: 42, owner_host: 'another-host'})
    const missing = catchError(() => lockRun(runs, id + 1))
    expect(missing).to.include({code: 'E_NO_RUN', exitCode: EXIT.usage})
  })

  it('releases only its own lock', () => {
    const {runs, id} = storeWithRun()
    const release = lockRun(runs, id)
    runs.write('UPDATE runs SET owner_pid = ?, owner_host = ? WHERE id = ?', 42, 'another-host', id)
    release()
    expect(runs.get(id)).to.include({owner_pid: 42, owner_host: 'another-host'})
  })
})

function catchError(fn: () => unknown): ModelcarError {
  try {
    fn()
  } catch (error) {
    return error as ModelcarError
  }
  throw new Error('expected an error')
}
