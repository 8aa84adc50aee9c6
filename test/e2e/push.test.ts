// modelcar push end to end: Hub simulator → real docker-registry (anonymous,
// htpasswd Basic, Bearer tokens), read back with skopeo and umoci.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fileSha256, startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy} from '../fixtures/registry/proxy.js'
import {layerSize} from '../../src/lib/layer/tar.js'
import {killStrayClis, outputValue, requireRealTools, runCli, skopeoCopy, umociUnpack, tempStateDb} from './helpers.js'

const HF_TOKEN = 'hf_e2eSecretToken0123456789'
const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
const LONG = `deep/${'nested-folder-name/'.repeat(5)}weights-with-a-rather-long-name.bin`
const FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"tiny","hidden_size":64}\n')},
  {path: 'a/b/c/tokenizer.json', size: 70_001},
  {path: LONG, size: 5000},
  {path: '模型/café.bin', size: 1234},
  {path: 'empty.txt', size: 0, content: Buffer.alloc(0)},
  {path: 'model.safetensors', size: 30 * 1024 * 1024 + 17, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))

describe('e2e: modelcar push', function () {
  this.timeout(180_000)
  let hub: HubSim
  const registries: TestRegistry[] = []
  const proxies: FaultProxy[] = []
  const state = tempStateDb

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      tokens: [HF_TOKEN],
      repos: [
        {id: 'acme/tiny', commits: [{sha: SHA, files: FILES}], tags: {v1: SHA}, prs: {1: SHA}},
        {id: 'acme/secret', private: true, commits: [{sha: 'f'.repeat(40), files: FILES.slice(0, 2)}]},
      ],
    })
  })
  afterEach(() => {
    killStrayClis()
    hub?.clearFaults()
  })
  after(async () => {
    await Promise.all([...proxies.map((p) => p.close()), ...registries.map((r) => r.close())])
    await hub?.close()
  })

  async function registry(opts: Parameters<typeof startRegistry>[0] = {}): Promise<TestRegistry> {
    const r = await startRegistry(opts)
    registries.push(r)
    return r
  }

  async function checkImage(ref: string, creds?: string) {
    const layout = await skopeoCopy(ref, creds)
    const {manifest, config} = layout
    expect(manifest.mediaType).to.equal('application/vnd.oci.image.manifest.v1+json')
    expect(manifest.config.mediaType).to.equal('application/vnd.oci.image.config.v1+json')
    expect(config.rootfs.diff_ids).to.deep.equal(manifest.layers.map((l) => l.digest))
    expect(manifest.layers.map((l) => l.annotations['org.opencontainers.image.title'])).to.deep.equal(
      [...FILES.map((f) => f.path)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    )
    expect(manifest.annotations['org.opencontainers.image.revision']).to.equal(SHA)
    expect(manifest.annotations['org.opencontainers.image.source']).to.equal(`${hub.endpoint}/acme/tiny`)
    for (const layer of manifest.layers) {
      expect(layer.mediaType).to.equal('application/vnd.oci.image.layer.v1.tar')
      const bytes = layout.blob(layer.digest)
      expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).to.equal(layer.digest)
      expect(bytes.length).to.equal(layer.size)
    }
    const rootfs = await umociUnpack(layout)
    for (const file of FILES) {
      const path = join(rootfs, 'models', file.path)
      expect(existsSync(path), file.path).to.equal(true)
      const content = readFileSync(path)
      expect(content.length, file.path).to.equal(file.size)
      const want = await fileSha256(file)
      expect(createHash('sha256').update(content).digest('hex'), file.path).to.equal(want)
      const layer = manifest.layers.find((l) => l.annotations['org.opencontainers.image.title'] === file.path)!
      expect(layer.annotations['dev.modelcar.content.sha256']).to.equal(want)
      expect(statSync(path).mode & 0o777).to.equal(0o644)
    }
    expect(statSync(join(rootfs, 'models', 'a', 'b')).mode & 0o777).to.equal(0o755)
    return layout
  }

  it('pushes anonymously; skopeo and umoci read back every byte; a second push gives the same digest', async () => {
    const reg = await registry()
    const env = {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()}
    const args = [
      'push',
      '--hf-repo',
      'acme/tiny',
      '--registry',
      reg.host,
      '--target-repo',
      'models/tiny',
      '--also-tag',
      'latest,stable',
      '--chunk-mib',
      '4',
    ]
    const first = await runCli(args, env)
    expect(first.code, first.stderr).to.equal(0)
    const digest = outputValue(first.stdout, 'MANIFESTDIGEST')
    expect(outputValue(first.stdout, 'IMAGEREF')).to.equal(`${reg.host}/models/tiny:${SHA.slice(0, 12)}`)
    expect(outputValue(first.stdout, 'IMAGEREFDIGEST')).to.equal(`${reg.host}/models/tiny@${digest}`)
    const layout = await checkImage(`${reg.host}/models/tiny:latest`)
    expect(`sha256:${createHash('sha256').update(layout.manifestBytes).digest('hex')}`).to.equal(digest)

    // Same revision again (tag name this time, one worker, fresh state): same bytes.
    const again = await runCli(
      [...args.map((a) => (a === 'models/tiny' ? 'models/tiny-again' : a)), '--hf-revision', 'v1', '--workers', '1'],
      {...env, MODELCAR_STATE_DB: state()},
    )
    expect(again.code, again.stderr).to.equal(0)
    expect(outputValue(again.stdout, 'MANIFESTDIGEST')).to.equal(digest)
    // With the same state database the blobs are recognised and not re-sent.
    const third = await runCli([...args, '--json', '--hf-revision', 'refs/pr/1'], env)
    expect(third.code, third.stderr).to.equal(0)
    const result = JSON.parse(third.stdout)
    expect(result.manifestDigest).to.equal(digest)
    expect(result.files.every((f: {outcome: string}) => f.outcome === 'exists')).to.equal(true)
  })

  it('gives the same image in every upload mode (chunked, stream, monolithic)', async () => {
    const reg = await registry()
    const proxy = await startFaultProxy(reg.url)
    proxies.push(proxy)
    const digests: string[] = []
    for (const mode of ['chunked', 'stream', 'monolithic']) {
      const from = proxy.records.length
      const res = await runCli(
        [
          'push',
          '--hf-repo',
          'acme/tiny',
          '--registry',
          proxy.host,
          '--target-repo',
          `modes/${mode}`,
          '--upload-mode',
          mode,
          '--chunk-mib',
          '4',
        ],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
      )
      expect(res.code, res.stderr).to.equal(0)
      digests.push(outputValue(res.stdout, 'MANIFESTDIGEST'))
      const patches = proxy.records.slice(from).filter((r) => r.method === 'PATCH')
      const bigPuts = proxy.records.slice(from).filter((r) => r.method === 'PUT' && r.requestBytes > 1024 * 1024)
      if (mode === 'chunked') expect(patches.filter((r) => r.headers['content-range']).length).to.be.greaterThan(FILES.length)
      if (mode === 'stream') {
        expect(patches).to.have.length(FILES.length)
        expect(patches.every((r) => r.headers['content-range'] === undefined)).to.equal(true)
      }
      if (mode === 'monolithic') {
        expect(patches).to.have.length(0)
        expect(bigPuts).to.have.length(1)
      }
    }
    expect(new Set(digests).size).to.equal(1)
    await checkImage(`${reg.host}/modes/monolithic:${SHA.slice(0, 12)}`)
  })

  it('pushes a private repo into an htpasswd registry; wrong passwords are a one-line error', async () => {
    const reg = await registry({auth: 'basic'})
    const args = ['push', '--hf-repo', 'acme/secret', '--registry', reg.host, '--target-repo', 'private/model', '--target-tag', 'v1']
    const env = {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state(), HF_TOKEN, OCI_USERNAME: 'alice', OCI_PASSWORD: reg.users.alice}
    const ok = await runCli(args, env)
    expect(ok.code, ok.stderr).to.equal(0)
    const layout = await skopeoCopy(`${reg.host}/private/model:v1`, `alice:${reg.users.alice}`)
    expect(layout.manifest.layers).to.have.length(2)

    const bad = await runCli(args, {...env, OCI_PASSWORD: 'wrong-password'})
    expect(bad.code).to.equal(2)
    expect(bad.stderr.trim().split('\n')).to.have.length(1)
    expect(bad.stderr).to.match(/^Error: Registry 127\.0\.0\.1:\d+ refused the credentials from OCI_USERNAME\/OCI_PASSWORD/)
    expect(bad.stderr).not.to.include('wrong-password')

    const anon = await runCli(args, {...env, OCI_USERNAME: '', OCI_PASSWORD: ''})
    expect(anon.code).to.equal(2)
    expect(anon.stderr).to.match(/requires credentials: set OCI_USERNAME and OCI_PASSWORD/)
  })

  it('pushes through a token registry whose bearer tokens expire mid-push; secrets stay where they belong', async () => {
    const reg = await registry({auth: 'token', tokenTtlSeconds: 2})
    const proxy = await startFaultProxy(reg.url)
    proxies.push(proxy)
    // Stall the big file's download past the token's lifetime: the next PATCH
    // gets 401, the client fetches a new token and the upload carries on.
    hub.injectFault({kind: 'stall', afterBytes: 12 * 1024 * 1024, ms: 3500, origin: 'cdn'})
    const before = hub.requests.length
    const res = await runCli(
      [
        'push',
        '--hf-repo',
        'acme/tiny',
        '--registry',
        proxy.host,
        '--target-repo',
        'tok/tiny',
        '--workers',
        '2',
        '--chunk-mib',
        '2',
        '--verbose',
      ],
      {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state(), HF_TOKEN, OCI_USERNAME: 'alice', OCI_PASSWORD: reg.users.alice},
    )
    expect(res.code, res.stderr).to.equal(0)
    expect(reg.tokenServer!.issued.length).to.be.greaterThan(1)
    // The refresh did not lose the upload: one session per layer was opened (nothing restarted)
    // and the registry accepted every layer byte exactly once.
    const uploads = proxy.records.filter((r) => r.url.includes('/blobs/uploads/'))
    const layers = FILES.reduce((n, f) => n + layerSize(f.path, f.size), 0)
    const accepted = uploads.filter((r) => r.method === 'PATCH' && r.status === 202).reduce((n, r) => n + r.forwardedBytes, 0)
    expect(accepted).to.equal(layers)
    const sessions = uploads.filter((r) => r.method === 'POST' && r.status === 202)
    expect(sessions, 'one upload session per layer and one for the config').to.have.length(FILES.length + 1)
    await checkImage(`${proxy.host}/tok/tiny:${SHA.slice(0, 12)}`, `alice:${reg.users.alice}`)

    const hubRequests = hub.requests.slice(before)
    const all = (h: Record<string, unknown>) => JSON.stringify(h)
    // The Hub token reaches the Hub origin, never the CDN, the registry or its token service.
    expect(hubRequests.some((r) => r.origin === 'hub' && all(r.headers).includes(HF_TOKEN))).to.equal(true)
    expect(hubRequests.filter((r) => r.origin === 'cdn')).to.not.be.empty
    for (const r of hubRequests.filter((r) => r.origin === 'cdn')) expect(all(r.headers)).not.to.include(HF_TOKEN)
    for (const r of proxy.records) expect(all(r.headers)).not.to.include(HF_TOKEN)
    for (const r of reg.tokenServer!.requests) expect(all(r.headers) + (r.body ?? '')).not.to.include(HF_TOKEN)
    // Registry credentials never reach the Hub.
    const basic = Buffer.from(`alice:${reg.users.alice}`).toString('base64')
    for (const r of hubRequests) expect(all(r.headers)).not.to.include(basic).and.not.to.include(reg.users.alice)
    // And no secret is printed.
    expect(res.stderr + res.stdout)
      .not.to.include(HF_TOKEN)
      .and.not.to.include(reg.users.alice)
  })

  it('gives one-line errors for unknown repos, revisions and private repos without a token', async () => {
    const env = {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()}
    const base = ['push', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--dry-run']
    const cases: Array<[string[], RegExp]> = [
      [['--hf-repo', 'acme/nope'], /^Error: Hugging Face repo "acme\/nope" was not found, or it is private/],
      [['--hf-repo', 'acme/secret'], /^Error: Hugging Face repo "acme\/secret" was not found, or it is private/],
      [
        ['--hf-repo', 'acme/tiny', '--hf-revision', 'no-such-branch'],
        /^Error: Revision "no-such-branch" was not found in Hugging Face repo "acme\/tiny"/,
      ],
      [['--hf-repo', 'acme/tiny', '--include', '*.nothing'], /none matched --include\/--exclude/],
      [['--hf-repo', 'acme/tiny', '--workers', '9'], /--workers must be a whole number from 1 to 8/],
      [['--hf-repo', 'acme/tiny', '--target-repo', 'Bad Repo'], /--target-repo/],
    ]
    for (const [extra, want] of cases) {
      const res = await runCli([...base, ...extra], env)
      expect(res.code, `${extra.join(' ')}: ${res.stderr}`).to.equal(2)
      expect(res.stderr.trim().split('\n'), res.stderr).to.have.length(1)
      expect(res.stderr).to.match(want)
    }
    // A bad token is named as the problem, even for a public repo (the Hub answers 401 to any bad token).
    for (const repo of ['acme/tiny', 'acme/secret']) {
      const res = await runCli([...base, '--hf-repo', repo], {...env, HF_TOKEN: 'hf_not_a_valid_token'})
      expect(res.code, res.stderr).to.equal(2)
      expect(res.stderr.trim()).to.equal(
        'Error: Hugging Face rejected the token from HF_TOKEN (401 invalid credentials): set HF_TOKEN to a valid token, or unset it for public repos.',
      )
    }
  })

  it('--json errors are one JSON document on stdout with the same exit code', async () => {
    const res = await runCli(['push', '--hf-repo', 'acme/nope', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--json'], {
      HF_ENDPOINT: hub.endpoint,
      MODELCAR_STATE_DB: state(),
    })
    expect(res.code).to.equal(2)
    const doc = JSON.parse(res.stdout)
    expect(doc.error).to.include({code: 'E_HF_REPO_NOT_FOUND', exitCode: 2})
    expect(doc.error.message).to.match(/^Hugging Face repo "acme\/nope" was not found/)
  })

  it('--dry-run plans without writing to the registry or the state database (an unreachable registry only skips discovery)', async () => {
    const db = state()
    const res = await runCli(
      ['push', '--hf-repo', 'acme/tiny', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--dry-run', '--json'],
      {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db},
    )
    expect(res.code, res.stderr).to.equal(0)
    const plan = JSON.parse(res.stdout)
    expect(plan.sha).to.equal(SHA)
    expect(plan.imageRef).to.equal(`127.0.0.1:9/x/y:${SHA.slice(0, 12)}`)
    expect(plan.files).to.have.length(FILES.length)
    const big = plan.files.find((f: {path: string}) => f.path === 'model.safetensors')
    expect(big.layerSize).to.equal(512 + 512 + 30 * 1024 * 1024 + 17 + (512 - 17) + 1024)
    expect(existsSync(db)).to.equal(false)
  })
})
