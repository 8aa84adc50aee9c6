// The run-history commands through the built CLI: forget and prune (with
// --json and their exit codes), list on a damaged or read-only state
// database, push refusing a database it cannot record in, and HF_ENDPOINT
// credentials that are refused and never printed.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'
import {openStateDb} from '../../src/lib/state/db.js'
import {startHubSim} from '../fixtures/hub/index.js'
import {RunStore} from '../../src/lib/state/runs.js'
import {ROOT, runCli, tempStateDb} from './helpers.js'

const DAY = 86_400_000

/** A state database with runs: [status, age in days, owner pid]. */
function seed(specs: Array<[string, number, number?]>): {path: string; ids: number[]} {
  const path = tempStateDb()
  const db = openStateDb(path)
  const runs = new RunStore(db)
  const ids = specs.map(([status, days, owner], i) => {
    const id = runs.create({
      pushKey: `k${i}`,
      hfSha: 'a'.repeat(40),
      hfEndpoint: 'https://huggingface.co',
      hfRepo: `org/m${i}`,
      hfRevision: 'main',
      registry: 'localhost:5000',
      targetRepo: `models/m${i}`,
      targetTag: 'v1',
      params: {},
    })
    runs.setPlan(id, {sha: 'a'.repeat(40), tag: 'v1', files: [{path: 'w.bin', size: 1, layerSize: 1536, oid: 'o'}]})
    const at = Date.now() - days * DAY
    runs.write(
      `UPDATE runs SET status = ?, owner_pid = ?, owner_host = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
      status,
      owner ?? null,
      owner === undefined ? null : hostname(),
      at,
      status === 'running' ? null : at,
      id,
    )
    return id
  })
  db.close()
  return {path, ids}
}

describe('e2e: forget, prune and a state database in trouble', function () {
  this.timeout(120_000)
  const cli = (args: string[], stateDb: string, env: NodeJS.ProcessEnv = {}) => runCli(args, {MODELCAR_STATE_DB: stateDb, ...env})

  it('forgets runs (text and --json), refuses unknown ids (2) and a run a live process holds (3)', async () => {
    const {path, ids} = seed([
      ['done', 1],
      ['failed', 2],
      ['running', 0, process.pid],
      ['done', 3],
    ])
    const forgot = await cli(['forget', String(ids[0]), String(ids[1])], path)
    expect(forgot.code, forgot.stderr).to.equal(0)
    expect(forgot.stdout).to.equal(
      [
        `Forgot run ${ids[0]} (done, org/m0 → localhost:5000/models/m0:v1, 1 file)`,
        `Forgot run ${ids[1]} (failed, org/m1 → localhost:5000/models/m1:v1, 1 file)`,
        '',
      ].join('\n'),
    )
    const unknown = await cli(['forget', String(ids[3]), String(ids[0])], path)
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.equal(`Error: No run ${ids[0]} in the history: see \`modelcar list\`. Nothing was forgotten.\n`)
    const locked = await cli(['forget', String(ids[2]), '--json'], path)
    expect(locked.code).to.equal(3)
    expect(JSON.parse(locked.stdout).error).to.include({code: 'E_RUN_LOCKED', exitCode: 3})
    const json = await cli(['forget', String(ids[3]), '--json'], path)
    expect(json.code, json.stderr).to.equal(0)
    expect(JSON.parse(json.stdout)).to.deep.equal({
      runs: [{id: ids[3], status: 'done', hfRepo: 'org/m3', target: 'localhost:5000/models/m3:v1', files: 1}],
    })
    const left = JSON.parse((await cli(['list', '--json'], path)).stdout)
    expect(left.runs.map((r: {id: number}) => r.id)).to.deep.equal([ids[2]])
  })

  it('prunes old finished runs by default, one status on request, never a live run', async () => {
    const {path, ids} = seed([
      ['done', 40],
      ['failed', 35],
      ['done', 5],
      ['interrupted', 12],
      ['running', 60, process.pid],
    ])
    const pruned = await cli(['prune'], path)
    expect(pruned.code, pruned.stderr).to.equal(0)
    expect(pruned.stdout.trim().split('\n').at(-1)).to.equal('Pruned 2 runs (done or failed runs older than 30d).')
    const interrupted = await cli(['prune', '--status', 'interrupted', '--older-than', '7d', '--json'], path)
    expect(interrupted.code, interrupted.stderr).to.equal(0)
    expect(JSON.parse(interrupted.stdout)).to.deep.include({statuses: ['interrupted'], olderThanMs: 7 * DAY})
    expect(JSON.parse(interrupted.stdout).runs.map((r: {id: number}) => r.id)).to.deep.equal([ids[3]])
    const bad = await cli(['prune', '--older-than', 'a while'], path)
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.equal('Error: Invalid --older-than "a while": give a number and a unit, e.g. 30d, 12h, 90m, 2w or 45s.\n')
    const left = JSON.parse((await cli(['list', '--json'], path)).stdout)
    expect(left.runs.map((r: {id: number}) => r.id)).to.deep.equal([ids[4], ids[2]])
  })

  it('says in one line which state database is damaged and how to get out', async () => {
    const path = tempStateDb()
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, 'garbage '.repeat(1000))
    for (const args of [['list'], ['status'], ['prune'], ['forget', '1']]) {
      const res = await cli(args, path)
      expect(res.code, args.join(' ')).to.equal(2)
      expect(res.stderr).to.equal(
        `Error: The state database ${path} is damaged (file is not a database): ` +
          `move it aside (mv ${path} ${path}.broken) to start a new history, or pass another file with --state-db or MODELCAR_STATE_DB.\n`,
      )
    }
  })

  it('lists a state database on a read-only disk; push says it cannot record there', async function () {
    const dir = join(dirname(tempStateDb()), 'ro')
    mkdirSync(dir)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], {stdio: 'pipe'})
    } catch {
      this.skip() // needs root and mount(8)
    }
    try {
      const path = join(dir, 'state.db')
      const db = openStateDb(path)
      const runs = new RunStore(db)
      runs.create({
        pushKey: 'k',
        hfSha: 'a'.repeat(40),
        hfEndpoint: 'x',
        hfRepo: 'org/ro',
        hfRevision: 'main',
        registry: 'r',
        targetRepo: 'm',
        params: {},
      })
      runs.write('UPDATE runs SET owner_pid = NULL, owner_host = NULL')
      db.close()
      execFileSync('mount', ['-o', 'remount,ro', dir], {stdio: 'pipe'})
      const list = await cli(['list'], path)
      expect(list.code, list.stderr).to.equal(0)
      expect(list.stdout, list.stdout).to.match(/^1\s+interrupted\s+org\/ro@a{12}\s/m)
      const readOnly = new RegExp(
        `^Error: The state database ${path} is read-only \\(.+\\): modelcar cannot record runs in it; ` +
          'make it writable, or pass another file with --state-db or MODELCAR_STATE_DB\\.\\n$',
      )
      const forget = await cli(['forget', '1'], path)
      expect(forget.code).to.equal(2)
      expect(forget.stderr).to.match(readOnly)
      const hub = await startHubSim({repos: [{id: 'org/ro', commits: [{sha: 'b'.repeat(40), files: [{path: 'config.json', size: 10}]}]}]})
      try {
        const args = ['push', '--hf-repo', 'org/ro', '--registry', 'localhost:9', '--target-repo', 'm']
        const push = await cli(args, path, {HF_ENDPOINT: hub.endpoint})
        expect(push.code).to.equal(2)
        expect(push.stderr).to.match(readOnly)
      } finally {
        await hub.close()
      }
    } finally {
      execFileSync('umount', ['-l', dir], {stdio: 'pipe'})
    }
  })

  it('lists a 0400 state database its user cannot write; forget says it cannot record', async function () {
    const {path} = seed([['failed', 1]])
    const dir = dirname(path)
    try {
      execFileSync('setpriv', ['--version'], {stdio: 'pipe'})
    } catch {
      this.skip() // needs setpriv(1) (util-linux) and root, to run the CLI as another user
    }
    execFileSync('chown', ['-R', '65534:65534', dir])
    chmodSync(path, 0o400)
    const asNobody = (args: string[]) => {
      try {
        const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(ROOT, 'bin/run.js'), ...args]
        const env = {PATH: process.env.PATH, HOME: dir, NO_COLOR: '1'}
        const stdout = execFileSync('setpriv', argv, {env, stdio: 'pipe', encoding: 'utf8'})
        return {code: 0, stdout, stderr: ''}
      } catch (error) {
        const e = error as {status: number; stdout: string; stderr: string}
        return {code: e.status, stdout: e.stdout, stderr: e.stderr}
      }
    }
    const list = asNobody(['list', '--state-db', path])
    expect(list.code, list.stderr).to.equal(0)
    expect(list.stdout).to.match(/^1\s+failed\s+org\/m0@a{12}\s/m)
    const forget = asNobody(['forget', '1', '--state-db', path])
    expect(forget.code).to.equal(2)
    expect(forget.stderr).to.equal(
      `Error: The state database ${path} is read-only (EACCES: permission denied, open '${path}'): ` +
        'modelcar cannot record runs in it; make it writable, or pass another file with --state-db or MODELCAR_STATE_DB.\n',
    )
  })

  it('refuses HF_ENDPOINT with credentials and never prints them', async () => {
    const res = await cli(['push', '--hf-repo', 'org/m', '--registry', 'localhost:9', '--target-repo', 'm', '--dry-run'], tempStateDb(), {
      HF_ENDPOINT: 'https://alice:s3cr3t-pw@mirror.example',
    })
    expect(res.code).to.equal(2)
    expect(res.stderr).to.equal('Error: HF_ENDPOINT must not carry credentials (https://***@mirror.example): put the token in HF_TOKEN.\n')
    expect(res.stdout + res.stderr).to.not.include('s3cr3t')
  })
})
