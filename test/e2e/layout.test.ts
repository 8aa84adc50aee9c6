// modelcar push --to oci:DIR: the image as an OCI image layout on disk, read
// back by skopeo and umoci straight from the directory; the same digests as a
// registry push; tags side by side; a kill -9 mid-file resumed to the same image.
import Database from 'better-sqlite3'
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {layerSize} from '../../src/lib/layer/tar.js'
import {
  expectImageHolds,
  killStrayClis,
  outputValue,
  readLayout,
  requireRealTools,
  runCli,
  sha256Hex,
  startCli,
  tempStateDb,
  waitFor,
} from './helpers.js'

const execFileP = promisify(execFile)
const MiB = 1024 * 1024
const SHA = '0c1d0000000000000000000000000000000c1d00'
const FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"tiny"}\n')},
  {path: 'tokenizer/tokenizer.json', size: 70_001},
  {path: 'model.safetensors', size: 12 * MiB + 7, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))

describe('e2e: push --to oci:DIR (OCI image layout)', function () {
  this.timeout(180_000)
  let hub: HubSim
  let reg: TestRegistry
  /** The manifest digest of a registry push of the same revision. */
  let reference: string

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({repos: [{id: 'acme/layout', commits: [{sha: SHA, files: FILES}]}]})
    reg = await startRegistry()
    const ref = await runCli(['push', '--hf-repo', 'acme/layout', '--registry', reg.host, '--target-repo', 'ref/model'], env(tempStateDb()))
    expect(ref.code, ref.stderr).to.equal(0)
    reference = outputValue(ref.stdout, 'MANIFESTDIGEST')
  })
  afterEach(() => {
    killStrayClis()
    hub?.clearFaults()
  })
  after(async () => {
    await reg?.close()
    await hub?.close()
  })

  function env(db: string) {
    return {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db}
  }
  const newDir = () => join(mkdtempSync(join(tmpdir(), 'mc-layout-')), 'layout')
  const push = (dir: string, db: string, ...more: string[]) =>
    runCli(['push', '--hf-repo', 'acme/layout', '--to', `oci:${dir}`, ...more], env(db))

  /** Every blob under blobs/sha256 hashes to its name: no partial or wrong blob was ever renamed in. */
  function expectSoundBlobs(dir: string): void {
    for (const name of readdirSync(join(dir, 'blobs', 'sha256'))) {
      expect(sha256Hex(readFileSync(join(dir, 'blobs', 'sha256', name))), name).to.equal(name)
    }
  }
  const sessions = (dir: string) => (existsSync(join(dir, '.modelcar-uploads')) ? readdirSync(join(dir, '.modelcar-uploads')) : [])

  it('writes a layout that skopeo and umoci read, byte for byte, with the digest a registry push gives', async () => {
    const dir = newDir()
    const res = await push(dir, tempStateDb(), '--target-tag', 'v1')
    expect(res.code, res.stderr).to.equal(0)
    const digest = outputValue(res.stdout, 'MANIFESTDIGEST')
    expect(digest).to.equal(reference)
    expect(outputValue(res.stdout, 'IMAGEREF')).to.equal(`oci:${dir}:v1`)
    expect(outputValue(res.stdout, 'IMAGEREFDIGEST')).to.equal(`oci:${dir}@${digest}`)
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).to.deep.equal({imageLayoutVersion: '1.0.0'})

    const {stdout} = await execFileP('skopeo', ['inspect', `oci:${dir}:v1`])
    expect(JSON.parse(stdout).Digest).to.equal(digest)
    await expectImageHolds(readLayout(dir, 'v1'), FILES, {manifestDigest: reference})
    expectSoundBlobs(dir)
    expect(sessions(dir)).to.deep.equal([])

    // The air-gapped hop: the layout into a registry, as the README says, lands the very same manifest.
    await execFileP('skopeo', [
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${dir}:v1`,
      `docker://${reg.host}/carried/model:v1`,
    ])
    const {stdout: carried} = await execFileP('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/carried/model:v1`])
    expect(JSON.parse(carried).Digest).to.equal(reference)
  })

  it('keeps two tags in one layout; pushing again uploads nothing', async () => {
    const dir = newDir()
    const db = tempStateDb()
    expect((await push(dir, db, '--target-tag', 'one')).code).to.equal(0)
    const second = await push(dir, db, '--target-tag', 'two', '--json')
    expect(second.code, second.stderr).to.equal(0)
    const result = JSON.parse(second.stdout)
    expect(result)
      .to.include({layout: dir, imageRef: `oci:${dir}:two`})
      .and.not.to.have.property('registryProfile')
    expect(result.files.map((f: {outcome: string}) => f.outcome)).to.deep.equal(FILES.map(() => 'exists'))
    expect(result.bytesUploaded).to.equal(0)
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'))
    expect(
      index.manifests.map((m: {annotations: Record<string, string>}) => m.annotations['org.opencontainers.image.ref.name']),
    ).to.deep.equal(['one', 'two'])
    expect(new Set(index.manifests.map((m: {digest: string}) => m.digest))).to.deep.equal(new Set([reference]))
    for (const tag of ['one', 'two']) {
      const {stdout} = await execFileP('skopeo', ['inspect', `oci:${dir}:${tag}`])
      expect(JSON.parse(stdout).Digest, tag).to.equal(reference)
    }
    // 3 layers, a config, a manifest: nothing twice, nothing else.
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).to.have.length(FILES.length + 2)
  })

  /** Start a push of the layout with 2 MiB appends, SIGKILL it once the big file has a checkpoint past 4 MiB; that checkpoint. */
  async function killMidFile(dir: string, db: string): Promise<number> {
    hub.injectFault({kind: 'stall', afterBytes: 6 * MiB, ms: 20_000, origin: 'cdn'})
    const run = startCli(['push', '--hf-repo', 'acme/layout', '--to', `oci:${dir}`, '--workers', '1', '--chunk-mib', '2'], env(db))
    const offset = () => {
      if (!existsSync(db)) return undefined
      const conn = new Database(db, {readonly: true, fileMustExist: true})
      try {
        const row = conn.prepare('SELECT upload_offset FROM run_files WHERE path = ?').get(FILES[2].path) as
          {upload_offset: number | null} | undefined
        return row?.upload_offset ?? undefined
      } catch {
        return undefined
      } finally {
        conn.close()
      }
    }
    const checkpoint = await waitFor(() => (offset() ?? 0) >= 4 * MiB && offset(), 'a checkpoint past 4 MiB')
    run.child.kill('SIGKILL')
    await run.done
    hub.clearFaults()
    return checkpoint
  }

  it('a kill -9 mid-file leaves no corrupt blob and no broken index; resume finishes the same image', async () => {
    const dir = newDir()
    const db = tempStateDb()
    const checkpoint = await killMidFile(dir, db)
    expectSoundBlobs(dir)
    expect(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests).to.deep.equal([])
    expect(sessions(dir)).to.have.length(1)
    // The run names its target as the output does, and resume knows it is a layout.
    const status = await runCli(['status', '--json'], env(db))
    expect(JSON.parse(status.stdout).runs[0]).to.include({status: 'interrupted', target: `oci:${dir}:${SHA.slice(0, 12)}`})

    const resumed = await runCli(['resume', '--json'], env(db))
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = JSON.parse(resumed.stdout)
    expect(result.manifestDigest).to.equal(reference)
    // The session went on from where the file held it: only the rest was written again.
    const total = result.files.reduce((n: number, f: {size: number}) => n + f.size, 0)
    expect(result.bytesUploaded).to.be.at.most(total - checkpoint)
    expectSoundBlobs(dir)
    expect(sessions(dir)).to.deep.equal([])
    await expectImageHolds(readLayout(dir, SHA.slice(0, 12)), FILES, {manifestDigest: reference})
  })

  it('a session file that lost bytes is dropped and the file starts over: the same image, no session left', async () => {
    const dir = newDir()
    const db = tempStateDb()
    const checkpoint = await killMidFile(dir, db)
    const [session] = sessions(dir)
    truncateSync(join(dir, '.modelcar-uploads', session), checkpoint - 1000)
    const resumed = await runCli(['resume', '--json'], env(db))
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = JSON.parse(resumed.stdout)
    expect(result.manifestDigest).to.equal(reference)
    expect(result.bytesUploaded).to.be.greaterThan(layerSize(FILES[2].path, FILES[2].size) - 1)
    expect(sessions(dir)).to.deep.equal([])
    expectSoundBlobs(dir)
  })

  it('ls and verify read a layout (oci:DIR:tag); a damaged blob is found and its repair command repairs it', async () => {
    const dir = newDir()
    const db = tempStateDb()
    expect((await push(dir, db, '--target-tag', 'v1')).code).to.equal(0)
    const ls = await runCli(['ls', `oci:${dir}:v1`, '--json'], env(db))
    expect(ls.code, ls.stderr).to.equal(0)
    const listed = JSON.parse(ls.stdout)
    expect(listed).to.include({reference: `oci:${dir}:v1`, manifestDigest: reference})
    expect(listed.images[0].files.map((f: {path: string}) => f.path).sort()).to.deep.equal(FILES.map((f) => f.path).sort())
    const good = await runCli(['verify', `oci:${dir}@${reference}`, '--deep', '--json'], env(db))
    expect(good.code, good.stderr).to.equal(0)
    expect(JSON.parse(good.stdout)).to.include({verdict: 'ok', manifestDigest: reference, deep: true})

    // One byte flipped in the big layer: same name, same size, wrong bytes.
    const big = readLayout(dir, 'v1').manifest.layers.find((l) => l.annotations['org.opencontainers.image.title'] === FILES[2].path)!
    const path = join(dir, 'blobs', ...big.digest.split(':'))
    const bytes = readFileSync(path)
    bytes[bytes.length >> 1] ^= 0xff
    writeFileSync(path, bytes)
    const bad = await runCli(['verify', `oci:${dir}:v1`, '--deep', '--json'], env(db))
    expect(bad.code).to.equal(4)
    const broken = JSON.parse(bad.stdout).blobs.find((b: {digest: string}) => b.digest === big.digest)
    expect(broken.result).to.equal('digest mismatch')
    expect(broken.repair).to.match(
      new RegExp(`^delete ${dir}/blobs/sha256/${big.digest.slice(7)}, then push again: modelcar push .* --to oci:${dir} --target-tag v1 `),
    )
    rmSync(path)
    const command = (broken.repair as string).split('push again: ')[1]
    const fixed = await runCli(command.split(' ').slice(1), env(tempStateDb()))
    expect(fixed.code, fixed.stderr).to.equal(0)
    expect((await runCli(['verify', `oci:${dir}:v1`, '--deep'], env(db))).code).to.equal(0)
  })

  it('refuses a foreign directory and flags that need a registry, in one line; --dry-run creates nothing', async () => {
    const dir = newDir()
    const db = tempStateDb()
    const other = mkdtempSync(join(tmpdir(), 'mc-notlayout-'))
    writeFileSync(join(other, 'notes.txt'), 'mine')
    const res = await push(other, db)
    expect(res.code).to.equal(2)
    expect(res.stderr).to.equal(
      `Error: ${other} is neither empty nor an OCI image layout (it holds notes.txt): name a new or empty directory, or a layout, in --to oci:DIR.\n`,
    )
    const both = await push(dir, db, '--registry', reg.host)
    expect(both.code).to.equal(2)
    expect(both.stderr).to.equal('Error: --to writes the image to a directory: drop --registry and --target-repo, or drop --to.\n')
    const based = await push(dir, db, '--base-image', `${reg.host}/ref/model:${SHA.slice(0, 12)}`)
    expect(based.code).to.equal(2)
    expect(based.stderr).to.match(/^Error: --base-image needs a registry target .*\n$/)
    const mode = await push(dir, db, '--upload-mode', 'stream')
    expect(mode.code).to.equal(2)
    expect(mode.stderr).to.match(/^Error: --upload-mode is for registries.*\n$/)
    const notOci = await runCli(['push', '--hf-repo', 'acme/layout', '--to', dir], env(db))
    expect(notOci.stderr).to.match(/^Error: --to ".*" is not oci:DIR: e\.g\. --to oci:\.\/qwen3-layout/)
    // --dry-run plans against the layout and creates nothing.
    const plan = await push(dir, db, '--dry-run')
    expect(plan.code, plan.stderr).to.equal(0)
    expect(plan.stdout).to.include(`target: OCI image layout ${dir}\n`)
    expect(outputValue(plan.stdout, 'IMAGEREF')).to.equal(`oci:${dir}:${SHA.slice(0, 12)}`)
    expect(existsSync(dir)).to.equal(false)
  })
})
