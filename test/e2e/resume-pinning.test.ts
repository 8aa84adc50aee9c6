// History that stays true: a push that fails before any transfer leaves no
// run to resume, a resumed run keeps the Hub it started with (so the digest
// is the same), and the interrupt advice names the run.
import {expect} from 'chai'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {freePort, startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {killStrayClis, outputValue, requireRealTools, runCli, tempStateDb} from './helpers.js'

const SHA = 'abcdef0123456789abcdef0123456789abcdef01'
const FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"history"}\n')},
  {path: 'w.bin', size: 2 * 1024 * 1024 + 3, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))

describe('e2e: run history stays true', function () {
  this.timeout(120_000)
  let hub: HubSim
  let reg: TestRegistry

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      repos: [
        {id: 'acme/h', commits: [{sha: SHA, files: FILES}]},
        {id: 'acme/gated', gated: true, commits: [{sha: SHA, files: FILES}]},
      ],
    })
    reg = await startRegistry()
  })
  afterEach(() => {
    killStrayClis()
    hub?.clearFaults()
  })
  after(async () => {
    await reg?.close()
    await hub?.close()
  })

  const push = (registry: string, target: string, env: NodeJS.ProcessEnv, extra: string[] = []) =>
    runCli(['push', '--hf-repo', 'acme/h', '--registry', registry, '--target-repo', target, '--max-retries', '0', ...extra], {
      HF_ENDPOINT: hub.endpoint,
      ...env,
    })
  const runs = async (db: string) =>
    JSON.parse((await runCli(['list', '--json'], {MODELCAR_STATE_DB: db})).stdout).runs as Array<{id: number; status: string}>

  it('records nothing when the pre-flight fails (wrong port, missing credentials)', async () => {
    const db = tempStateDb()
    const port = await freePort()
    const refused = await push(`127.0.0.1:${port}`, 'h/a', {MODELCAR_STATE_DB: db})
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.include(`nothing listens on 127.0.0.1:${port}`)
    const basic = await startRegistry({auth: 'basic'})
    try {
      const noCreds = await push(basic.host, 'h/a', {MODELCAR_STATE_DB: db})
      expect(noCreds.code).to.equal(2)
      expect(noCreds.stderr).to.include('requires credentials')
    } finally {
      await basic.close()
    }
    expect(await runs(db)).to.deep.equal([])
    const status = await runCli(['status'], {MODELCAR_STATE_DB: db})
    expect(status.stdout + status.stderr).not.to.match(/modelcar resume \d/)
  })

  it('says a gated repo once, while planning, before any run is recorded or any file is read', async () => {
    const db = tempStateDb()
    const before = hub.requests.length
    const res = await runCli(['push', '--hf-repo', 'acme/gated', '--registry', reg.host, '--target-repo', 'h/g'], {
      HF_ENDPOINT: hub.endpoint,
      MODELCAR_STATE_DB: db,
    })
    expect(res.code).to.equal(2)
    expect(res.stderr.trim()).to.equal(
      'Error: Hugging Face repo "acme/gated" is gated or forbidden for this token: accept its terms on the Hub and set HF_TOKEN to a token of an account with access.',
    )
    expect(
      hub.requests.slice(before).filter((r) => r.method === 'GET' && r.url.includes('/resolve/')),
      'no file was downloaded',
    ).to.deep.equal([])
    expect(await runs(db)).to.deep.equal([])
  })

  it('resumes against the Hub the run started with, warning when HF_ENDPOINT differs, with the same digest', async () => {
    const clean = await push(reg.host, 'h/clean', {MODELCAR_STATE_DB: tempStateDb()})
    expect(clean.code, clean.stderr).to.equal(0)
    const db = tempStateDb()
    hub.injectFault({kind: 'status', status: 503, match: (p) => p.endsWith('/w.bin'), times: 1})
    const failed = await push(reg.host, 'h/resumed', {MODELCAR_STATE_DB: db})
    expect(failed.code).to.equal(1)
    const [run] = await runs(db)
    expect(run.status).to.equal('failed')
    const resumed = await runCli(['resume', String(run.id)], {MODELCAR_STATE_DB: db, HF_ENDPOINT: 'http://127.0.0.1:9'})
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(resumed.stderr).to.include(
      `warning: this run started against the Hub at ${hub.endpoint}; it continues there (HF_ENDPOINT here says http://127.0.0.1:9)`,
    )
    expect(outputValue(resumed.stdout, 'MANIFESTDIGEST')).to.equal(outputValue(clean.stdout, 'MANIFESTDIGEST'))
  })
})
