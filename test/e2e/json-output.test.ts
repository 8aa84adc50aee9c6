import net from 'node:net'
// Every command's --json output, run for real against the Hub simulator and a
// real registry, checked against its JSON Schema in schemas/: success, and the
// failures that print a JSON document (errors, a verify that finds the image wrong).
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {requireRealTools, runCli, tempStateDb} from './helpers.js'
import {expectSchemaValid} from './json-schemas.js'

const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
const FILES: SimFile[] = [
  {path: 'config.json', size: 300},
  {path: 'tokenizer.json', size: 20_000},
  {path: 'model.safetensors', size: 300_000, lfs: true},
]

describe('e2e: --json of every command matches its schema', function () {
  this.timeout(180_000)
  let hub: HubSim
  let reg: TestRegistry
  let env: NodeJS.ProcessEnv
  const cli = (args: string[], stateDb = tempStateDb()) => runCli(args, {...env, MODELCAR_STATE_DB: stateDb})
  const pushArgs = (repo: string, ...extra: string[]) => [
    'push',
    '--hf-repo',
    'acme/tiny',
    '--registry',
    reg.host,
    '--target-repo',
    repo,
    '--target-tag',
    'v1',
    '--json',
    ...extra,
  ]

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({repos: [{id: 'acme/tiny', commits: [{sha: SHA, files: FILES}]}]})
    reg = await startRegistry({deleteEnabled: true})
    env = {HF_ENDPOINT: hub.endpoint}
  })
  afterEach(() => hub?.clearFaults())
  after(async () => {
    await reg?.close()
    await hub?.close()
  })

  it('push: --dry-run, a push, and a repo that does not exist', async () => {
    const plan = await cli(pushArgs('m/plan', '--dry-run'))
    expect(plan.code, plan.stderr).to.equal(0)
    const planDoc = expectSchemaValid('push', plan.stdout)
    expect(planDoc).to.include({dryRun: true, sha: SHA})
    expect(planDoc.files.find((f: {path: string}) => f.path === 'model.safetensors')).to.have.property('lfsSha256')

    const pushed = await cli(pushArgs('m/push', '--also-tag', 'latest'))
    expect(pushed.code, pushed.stderr).to.equal(0)
    const doc = expectSchemaValid('push', pushed.stdout)
    expect(doc.tags).to.deep.equal(['v1', 'latest'])
    expect(doc.files.map((f: {outcome: string}) => f.outcome)).to.deep.equal(['uploaded', 'uploaded', 'uploaded'])

    const missing = await cli(['push', '--hf-repo', 'acme/nothing', '--registry', reg.host, '--target-repo', 'm/x', '--json'])
    expect(missing.code).to.equal(2)
    expect(expectSchemaValid('push', missing.stdout).error.code).to.equal('E_HF_REPO_NOT_FOUND')
    // The registry's pre-flight runs beside the Hub's plan; the plan's failure is still the one said.
    const closed = await closedPort()
    const both = await cli(['push', '--hf-repo', 'acme/nothing', '--registry', `127.0.0.1:${closed}`, '--target-repo', 'm/x', '--json'])
    expect(expectSchemaValid('push', both.stdout).error.code).to.equal('E_HF_REPO_NOT_FOUND')
    const unreachable = await cli(['push', '--hf-repo', 'acme/tiny', '--registry', `127.0.0.1:${closed}`, '--target-repo', 'm/x', '--json'])
    expect(unreachable.code).to.not.equal(0)
    expect(expectSchemaValid('push', unreachable.stdout).error.code).to.equal('E_NETWORK')
  })

  it('a failed push, then status, list, resume, forget and prune of its history', async () => {
    const stateDb = tempStateDb()
    hub.injectFault({kind: 'status', status: 404, match: (p) => p.endsWith('/tokenizer.json'), times: 100})
    const failed = await cli(pushArgs('m/resumed', '--continue-on-error', '--max-retries', '0'), stateDb)
    expect(failed.code, failed.stderr).to.equal(1)
    expect(expectSchemaValid('push', failed.stdout).error.code).to.equal('E_FILES_FAILED')
    hub.clearFaults()

    const status = expectSchemaValid('status', (await cli(['status', '--json'], stateDb)).stdout)
    expect(status.runs).to.have.length(1)
    const run = status.runs[0]
    expect(run).to.include({status: 'failed', resumeCommand: `modelcar resume ${run.id}`})
    expect(run.fileStates.map((f: {state: string}) => f.state).sort()).to.deep.equal(['done', 'done', 'failed'])
    const noRun = await cli(['status', '999', '--json'], stateDb)
    expect(noRun.code).to.equal(2)
    expect(expectSchemaValid('status', noRun.stdout).error.code).to.equal('E_NO_RUN')

    const resumed = await cli(['resume', String(run.id), '--json'], stateDb)
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(expectSchemaValid('resume', resumed.stdout)).to.include({runId: run.id})
    const again = await cli(['resume', String(run.id), '--json'], stateDb)
    expect(again.code).to.not.equal(0)
    expectSchemaValid('resume', again.stdout)

    const one = expectSchemaValid('status', (await cli(['status', String(run.id), '--json'], stateDb)).stdout)
    expect(one.runs[0]).to.include({status: 'done', resumeCommand: null})
    const list = await cli(['list', '--json'], stateDb)
    expect(list.code, list.stderr).to.equal(0)
    expect(expectSchemaValid('list', list.stdout).runs.map((r: {status: string}) => r.status)).to.deep.equal(['done'])
    const badStatus = await cli(['list', '--status', 'gone', '--json'], stateDb)
    expect(badStatus.code).to.equal(2)
    expectSchemaValid('list', badStatus.stdout)

    const unknown = await cli(['forget', '999', '--json'], stateDb)
    expect(unknown.code).to.equal(2)
    expect(expectSchemaValid('forget', unknown.stdout).error.code).to.equal('E_NO_RUN')
    const pruned = await cli(['prune', '--older-than', '0s', '--json'], stateDb)
    expect(pruned.code, pruned.stderr).to.equal(0)
    expect(expectSchemaValid('prune', pruned.stdout).runs.map((r: {id: number}) => r.id)).to.deep.equal([run.id])
    const badAge = await cli(['prune', '--older-than', 'soon', '--json'], stateDb)
    expect(badAge.code).to.equal(2)
    expectSchemaValid('prune', badAge.stdout)

    const second = await cli(pushArgs('m/forgotten'), stateDb)
    expect(second.code, second.stderr).to.equal(0)
    const forgot = await cli(['forget', String(expectSchemaValid('push', second.stdout).runId), '--json'], stateDb)
    expect(forgot.code, forgot.stderr).to.equal(0)
    expect(expectSchemaValid('forget', forgot.stdout).runs[0]).to.include({status: 'done', files: 3})
  })

  it('ls and verify: a clean image, a broken one, and a tag that does not exist', async () => {
    for (const repo of ['m/clean', 'm/broken']) expect((await cli(pushArgs(repo))).code).to.equal(0)
    const ls = await cli(['ls', `${reg.host}/m/clean:v1`, '--json'])
    expect(ls.code, ls.stderr).to.equal(0)
    expect(expectSchemaValid('ls', ls.stdout).images[0].files).to.have.length(3)
    const noTag = await cli(['ls', `${reg.host}/m/clean:nope`, '--json'])
    expect(noTag.code).to.not.equal(0)
    expectSchemaValid('ls', noTag.stdout)

    const ok = await cli(['verify', `${reg.host}/m/clean:v1`, '--deep', '--against-hf', '--for', 'image-volume,kserve-fetch', '--json'])
    expect(ok.code, ok.stderr).to.equal(0)
    const report = expectSchemaValid('verify', ok.stdout)
    expect(report).to.include({verdict: 'ok', deep: true})
    expect(report.consumers.consumers).to.deep.equal(['image-volume', 'kserve-fetch'])

    const layer = expectSchemaValid('ls', (await cli(['ls', `${reg.host}/m/broken:v1`, '--json'])).stdout).images[0].files[0].layerDigest
    const del = await fetch(`${reg.url}/v2/m/broken/blobs/${layer}`, {method: 'DELETE'})
    expect(del.status).to.equal(202)
    const wrong = await cli(['verify', `${reg.host}/m/broken:v1`, '--json'])
    expect(wrong.code).to.equal(4)
    const broken = expectSchemaValid('verify', wrong.stdout)
    expect(broken).to.include({verdict: 'wrong', exitCode: 4})
    expect(broken.error).to.include({code: 'E_IMAGE_WRONG', exitCode: 4})
    expect(broken.blobs.find((b: {digest: string}) => b.digest === layer)).to.include({result: 'missing'})

    const noImage = await cli(['verify', `${reg.host}/m/none:v1`, '--json'])
    expect(noImage.code).to.not.equal(0)
    expectSchemaValid('verify', noImage.stdout)
  })

  it('mirror: --dry-run, a run with a failing entry, and a re-run where the rest is current', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mc-mirror-json-')), 'mirror.yaml')
    writeFileSync(
      file,
      [
        `registry: ${reg.host}`,
        'models:',
        '  - {repo: acme/tiny, target: m/mirror, tags: [v1]}',
        '  - {repo: acme/nothing, target: m/gone}',
        '',
      ].join('\n'),
    )
    const stateDb = tempStateDb()
    const plan = expectSchemaValid('mirror', (await cli(['mirror', file, '--dry-run', '--json'], stateDb)).stdout)
    expect(plan.map((u: {hfRepo: string}) => u.hfRepo).sort()).to.deep.equal(['acme/nothing', 'acme/tiny'])

    const first = await cli(['mirror', file, '--json'], stateDb)
    expect(first.code, first.stderr).to.equal(1)
    const outcomes = (doc: Array<{hfRepo: string; outcome: string}>) => Object.fromEntries(doc.map((r) => [r.hfRepo, r.outcome]))
    expect(outcomes(expectSchemaValid('mirror', first.stdout) as never)).to.deep.equal({'acme/tiny': 'pushed', 'acme/nothing': 'failed'})
    const again = await cli(['mirror', file, '--json'], stateDb)
    expect(outcomes(expectSchemaValid('mirror', again.stdout) as never)).to.deep.equal({'acme/tiny': 'current', 'acme/nothing': 'failed'})

    const bad = await cli(['mirror', join(tmpdir(), 'no-such-mirror.yaml'), '--json'], stateDb)
    expect(bad.code).to.equal(2)
    expect(expectSchemaValid('mirror', bad.stdout)).to.have.property('error')
  })

  it('push --to oci:DIR and ls of the layout', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mc-layout-json-')), 'layout')
    const pushed = await cli(['push', '--hf-repo', 'acme/tiny', '--to', `oci:${dir}`, '--target-tag', 'v1', '--json'])
    expect(pushed.code, pushed.stderr).to.equal(0)
    const doc = expectSchemaValid('push', pushed.stdout)
    expect(doc).to.include({layout: dir, imageRef: `oci:${dir}:v1`})
    const listed = await cli(['ls', `oci:${dir}:v1`, '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(expectSchemaValid('ls', listed.stdout).manifestDigest).to.equal(doc.manifestDigest)
  })
})

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
