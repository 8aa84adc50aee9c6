// Images every consumer can run: --base-image (mounted within a registry,
// streamed from another), --platform and --modelpack in one index, and
// verify --for. Read back by real consumers: podman pulls and mounts them,
// KServe's init and sidecar commands run in the mounted root with the image's
// own shell, skopeo copies the whole index.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {fileSha256, startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {
  APPLETS,
  BASE_CMD,
  BASE_ENV,
  BUSYBOX,
  pushBlob,
  pushBusybox,
  pushImage,
  sha256,
  type PushedBase,
} from '../fixtures/images/busybox.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {killStrayClis, outputValue, requireRealTools, runCli, sha256Hex, tempStateDb} from './helpers.js'
import {runKServeInit, runKServeSidecar} from './kserve.js'
import {Podman, requirePodman} from './podman.js'
import {modelPackConfigProblems, modelPackManifestProblems} from '../fixtures/modelpack-spec.js'

const execFileP = promisify(execFile)
const SHA = 'd1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
const text = (path: string, body: string): SimFile => ({path, size: Buffer.byteLength(body), content: Buffer.from(body)})
const FILES: SimFile[] = [
  text('config.json', '{"model_type":"tiny"}\n'),
  text('README.md', '# tiny\n'),
  {path: 'tokenizer/tokenizer.json', size: 10_000},
  {path: 'model.safetensors', size: 300_000, lfs: true},
]
const INDEX = 'application/vnd.oci.image.index.v1+json'
// What the Hub's model info adds for the ModelPack config (shaped as huggingface_hub's ModelInfo).
const HUB_INFO = {
  cardData: {license: 'apache-2.0'},
  config: {model_type: 'tiny'},
  safetensors: {parameters: {BF16: 150_000}, total: 150_000},
}

interface Manifest {
  mediaType: string
  artifactType?: string
  config: {mediaType: string; digest: string}
  layers: Array<{mediaType: string; digest: string; size: number; annotations?: Record<string, string>}>
  annotations: Record<string, string>
}

describe('e2e: images every consumer can run', function () {
  this.timeout(120_000)
  let hub: HubSim
  let target: TestRegistry
  let other: TestRegistry
  let env: NodeJS.ProcessEnv
  let single: PushedBase
  let multi: PushedBase
  let podman: Podman

  before(async function () {
    await requireRealTools(this)
    await requirePodman(this)
    hub = await startHubSim({repos: [{id: 'acme/tiny', commits: [{sha: SHA, files: FILES}], info: HUB_INFO}]})
    ;[target, other] = await Promise.all([startRegistry(), startRegistry()])
    env = {HF_ENDPOINT: hub.endpoint}
    single = await pushBusybox(target.url, 'base/busybox', '1')
    multi = await pushBusybox(target.url, 'base/busybox', 'multi', {platforms: ['amd64', 'arm64']})
    await pushBusybox(other.url, 'lib/busybox', '1')
    podman = new Podman()
  })
  afterEach(() => {
    killStrayClis()
    hub?.clearFaults()
  })
  after(async () => {
    await podman?.close()
    await Promise.all([target?.close(), other?.close(), hub?.close()])
  })

  const push = async (args: string[]) => {
    const res = await runCli(['push', '--hf-repo', 'acme/tiny', '--registry', target.host, ...args], {
      ...env,
      MODELCAR_STATE_DB: tempStateDb(),
    })
    expect(res.code, res.stderr).to.equal(0)
    return outputValue(res.stdout, 'MANIFESTDIGEST')
  }
  /** A manifest (accept: its media type) or, with accept 'blob', a JSON blob, from the target registry. */
  const getJson = async (repo: string, reference: string, accept = 'application/vnd.oci.image.manifest.v1+json') => {
    const path = accept === 'blob' ? `blobs/${reference}` : `manifests/${reference}`
    const res = await fetch(`${target.url}/v2/${repo}/${path}`, {headers: {accept: accept === 'blob' ? '*/*' : accept}})
    expect(res.status, `${repo} ${reference}`).to.equal(200)
    return res.json()
  }
  const title = (l: Manifest['layers'][number]) => l.annotations?.['org.opencontainers.image.title']

  /** Every model file, byte for byte, in the mounted root; then KServe's init and sidecar commands with the image's shell. */
  async function expectRunnable(rootfs: string) {
    for (const file of FILES) {
      const bytes = readFileSync(join(rootfs, 'models', file.path))
      expect(sha256Hex(bytes), file.path).to.equal(await fileSha256(file))
      expect(statSync(join(rootfs, 'models', file.path)).mode & 0o777, file.path).to.equal(0o644)
    }
    expect(readdirSync(join(rootfs, 'bin')).sort()).to.deep.equal(['busybox', 'ln', 'ls', 'sh', 'sleep'])
    expect(readFileSync(join(rootfs, 'bin/busybox')).equals(readFileSync(BUSYBOX))).to.equal(true)
    for (const applet of APPLETS) expect(readlinkSync(join(rootfs, 'bin', applet))).to.equal('busybox')
    const init = await runKServeInit(rootfs, 'registry.example/models/x:v1')
    expect(init.code, init.stderr).to.equal(0)
    expect(init.stdout).to.include('OK ... Prefetched and valid (/models exists)')
    // The sidecar links its /models where the server container looks (/mnt/models), then sleeps for good.
    const sidecar = await runKServeSidecar(rootfs)
    expect(sidecar.link).to.equal(`/proc/${sidecar.pid}/root/models`)
    expect(sidecar.entries).to.deep.equal(['README.md', 'config.json', 'model.safetensors', 'tokenizer'])
    expect(sidecar.stillRunning, 'sleep infinity keeps the sidecar up').to.equal(true)
  }

  it('puts the model on a base image of the same registry (mounted) that podman pulls and KServe can start', async () => {
    const digest = await push(['--target-repo', 'models/based', '--target-tag', 'v1', '--base-image', `${target.host}/base/busybox:1`])
    const manifest = (await getJson('models/based', digest)) as Manifest
    expect(manifest.layers[0]).to.deep.include({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: single.layer.digest,
      size: single.layer.bytes.length,
    })
    expect(manifest.layers.slice(1).map(title)).to.deep.equal(['README.md', 'config.json', 'model.safetensors', 'tokenizer/tokenizer.json'])
    expect(manifest.annotations['org.opencontainers.image.base.name']).to.equal(`${target.host}/base/busybox:1`)
    expect(manifest.annotations['org.opencontainers.image.base.digest']).to.equal(single.digest)
    const config = (await getJson('models/based', manifest.config.digest, 'blob')) as {
      config: Record<string, unknown>
      rootfs: {diff_ids: string[]}
      history: Array<{created_by: string}>
      architecture: string
      os: string
    }
    // The base's runtime settings stay; what a modelcar image does not need (Labels) goes.
    expect(config.config).to.deep.equal({Env: BASE_ENV, Cmd: BASE_CMD})
    // A gzip layer's diff_id is its uncompressed digest, not the blob digest.
    expect(config.rootfs.diff_ids).to.deep.equal([single.diffId, ...manifest.layers.slice(1).map((l) => l.digest)])
    const added = manifest.layers.slice(1).map((l) => `modelcar: models/${title(l)}`)
    expect(config.history.map((h) => h.created_by)).to.deep.equal(['busybox for amd64', ...added])
    // Mounted from the base's repository, not uploaded again.
    expect(target.logs()).to.include(`/v2/models/based/blobs/uploads/?mount=${encodeURIComponent(single.layer.digest)}&from=base%2Fbusybox`)
    await expectRunnable(await podman.pullAndMount(`${target.host}/models/based:v1`))
    // KServe's init container refuses the base alone: no /models.
    const bare = await runKServeInit(await podman.pullAndMount(`${target.host}/base/busybox:1`), 'registry.example/base/busybox:1')
    expect(bare.code).to.equal(1)
    expect(bare.stdout).to.include('NOK ... Prefetched but modelcar is invalid (/models does not exist or is empty)')
  })

  it('streams the base layers from another registry, and verify --deep --for every consumer passes', async () => {
    const digest = await push(['--target-repo', 'models/streamed', '--target-tag', 'v1', '--base-image', `${other.host}/lib/busybox:1`])
    const blob = await fetch(`${target.url}/v2/models/streamed/blobs/${single.layer.digest}`)
    expect(Buffer.from(await blob.arrayBuffer()).equals(single.layer.bytes)).to.equal(true)
    expect(other.logs()).to.include(`/v2/lib/busybox/blobs/${single.layer.digest}`)
    const ref = `${target.host}/models/streamed@${digest}`
    const res = await runCli(['verify', ref, '--deep', '--for', 'kserve-sidecar,image-volume', '--for', 'kserve-fetch'], env)
    expect(res.code, res.stdout + res.stderr).to.equal(0)
    expect(res.stdout).to.include('READY for kserve-sidecar, image-volume, kserve-fetch: 1 image checked')
    await expectRunnable(await podman.pullAndMount(`${target.host}/models/streamed:v1`))
  })

  it('builds one index over two platforms and a ModelPack manifest sharing the model layers, the same whatever --workers', async () => {
    const args = [
      '--target-repo',
      'models/multi',
      '--base-image',
      `${target.host}/base/busybox:multi`,
      '--platform',
      'linux/amd64,linux/arm64',
      '--modelpack',
    ]
    const digest = await push([...args, '--target-tag', 'w4', '--workers', '4'])
    expect(await push([...args, '--target-tag', 'w1', '--workers', '1'])).to.equal(digest)
    const index = (await getJson('models/multi', digest, INDEX)) as {
      mediaType: string
      manifests: Array<{digest: string; platform?: {architecture: string}; artifactType?: string}>
      annotations: Record<string, string>
    }
    expect(index.mediaType).to.equal(INDEX)
    const entries = index.manifests.map((m) => m.platform?.architecture ?? m.artifactType)
    expect(entries).to.deep.equal(['amd64', 'arm64', 'application/vnd.cncf.model.manifest.v1+json'])
    expect(index.annotations['org.opencontainers.image.base.digest']).to.equal(multi.digest)
    const [amd64, arm64, pack] = await Promise.all(index.manifests.map((m) => getJson('models/multi', m.digest) as Promise<Manifest>))
    expect(amd64.annotations['org.opencontainers.image.base.digest']).to.equal(multi.manifests.amd64)
    expect(arm64.annotations['org.opencontainers.image.base.digest']).to.equal(multi.manifests.arm64)
    const modelLayers = amd64.layers.slice(1).map((l) => l.digest)
    expect(arm64.layers.slice(1).map((l) => l.digest)).to.deep.equal(modelLayers)
    // ModelPack: the very same blobs under the model-spec media types, by file kind.
    expect(pack.artifactType).to.equal('application/vnd.cncf.model.manifest.v1+json')
    expect(pack.config.mediaType).to.equal('application/vnd.cncf.model.config.v1+json')
    expect(pack.layers.map((l) => l.digest)).to.deep.equal(modelLayers)
    expect(pack.layers.map((l) => [l.annotations!['org.cncf.model.filepath'], l.mediaType])).to.deep.equal([
      ['models/README.md', 'application/vnd.cncf.model.doc.v1.tar'],
      ['models/config.json', 'application/vnd.cncf.model.weight.config.v1.tar'],
      ['models/model.safetensors', 'application/vnd.cncf.model.weight.v1.tar'],
      ['models/tokenizer/tokenizer.json', 'application/vnd.cncf.model.weight.config.v1.tar'],
    ])
    const packConfig = (await getJson('models/multi', pack.config.digest, 'blob')) as {
      descriptor: Record<string, unknown>
      config: Record<string, unknown>
      modelfs: {diffIds: string[]}
    }
    const hubInfo = (await (await fetch(`${hub.endpoint}/api/models/acme/tiny/revision/${SHA}`)).json()) as {lastModified: string}
    expect(packConfig.descriptor).to.deep.equal({
      name: 'tiny',
      vendor: 'acme',
      revision: SHA,
      sourceURL: `${hub.endpoint}/acme/tiny`,
      createdAt: hubInfo.lastModified,
      licenses: ['apache-2.0'],
      family: 'tiny',
    })
    expect(packConfig.config).to.deep.equal({format: 'safetensors', paramSize: '150K', precision: 'bf16'})
    expect(packConfig.modelfs.diffIds).to.deep.equal(modelLayers)
    // Everything the model-spec asks of the manifest and the config (test/fixtures/modelpack-spec.ts).
    expect(modelPackManifestProblems(pack)).to.deep.equal([])
    expect(modelPackConfigProblems(packConfig)).to.deep.equal([])
    // The filepath and file metadata annotations say what a tar reader finds in each layer blob.
    const layerDir = mkdtempSync(join(tmpdir(), 'mc-pack-layers-'))
    for (const [i, layer] of pack.layers.entries()) {
      const blobFile = join(layerDir, `layer-${i}.tar`)
      writeFileSync(blobFile, Buffer.from(await (await fetch(`${target.url}/v2/models/multi/blobs/${layer.digest}`)).arrayBuffer()))
      const {stdout} = await execFileP('tar', ['--numeric-owner', '--full-time', '-tvf', blobFile], {env: {...process.env, TZ: 'UTC'}})
      const [mode, owner, size, day, time, name] = stdout.trim().split('\n').pop()!.trim().split(/\s+/)
      const meta = JSON.parse(layer.annotations!['org.cncf.model.file.metadata+json']) as Record<string, unknown>
      expect(name).to.equal(layer.annotations!['org.cncf.model.filepath'])
      expect(meta).to.deep.equal({
        name: name.split('/').pop(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: Number(size),
        mtime: `${day}T${time}Z`,
        typeflag: '0'.charCodeAt(0),
      })
      expect([mode, owner]).to.deep.equal(['-rw-r--r--', '0/0'])
      expect(Number(size)).to.equal(FILES.find((f) => `models/${f.path}` === name)!.size)
    }

    // skopeo copies the whole index, every platform and the ModelPack artifact, each manifest byte for byte
    // (skopeo 1.9 rewrites the index itself: it does not know artifactType on index entries).
    const dir = mkdtempSync(join(tmpdir(), 'mc-oci-all-'))
    const source = `docker://${target.host}/models/multi@${digest}`
    await execFileP('skopeo', ['copy', '--all', '--src-tls-verify=false', '--dest-oci-accept-uncompressed-layers', source, `oci:${dir}:x`])
    const blob = (d: string) => readFileSync(join(dir, 'blobs', ...d.split(':')))
    const layoutIndex = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {manifests: Array<{digest: string}>}
    const copied = JSON.parse(blob(layoutIndex.manifests[0].digest).toString()) as {manifests: Array<{digest: string}>}
    expect(copied.manifests.map((m) => m.digest)).to.deep.equal(index.manifests.map((m) => m.digest))
    for (const d of [...index.manifests.map((m) => m.digest), ...modelLayers, single.layer.digest, pack.config.digest]) {
      expect(sha256(blob(d)), d).to.equal(d)
    }
    const verify = await runCli(['verify', `${target.host}/models/multi:w4`, '--deep', '--for', 'kserve-sidecar'], env)
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0)
    expect(verify.stdout).to.include('READY for kserve-sidecar: 2 images checked')
    await expectRunnable(await podman.pullAndMount(`${target.host}/models/multi:w4`, 'linux/amd64'))
  })

  it('a resumed push builds on the base digest its run recorded, even when the base tag has moved since', async () => {
    const first = await pushBusybox(target.url, 'base/moving', '1')
    const stateDb = tempStateDb()
    const pushEnv = {...env, MODELCAR_STATE_DB: stateDb}
    hub.injectFault({kind: 'status', status: 403, match: (path) => path.endsWith('model.safetensors'), times: 20})
    const base = `${target.host}/base/moving:1`
    const args = ['--hf-repo', 'acme/tiny', '--registry', target.host, '--target-repo', 'models/pinned', '--base-image', base]
    const failed = await runCli(['push', ...args], pushEnv)
    expect(failed.code, failed.stderr).to.not.equal(0)
    hub.clearFaults()
    const moved = {architecture: 'amd64', os: 'linux', config: {Env: ['MOVED=1']}, rootfs: {type: 'layers', diff_ids: [first.diffId]}}
    const other = await pushImage(target.url, 'base/moving', '1', [first.layer], moved)
    expect(other.digest).to.not.equal(first.digest)
    const resumed = await runCli(['resume'], pushEnv)
    expect(resumed.code, resumed.stderr).to.equal(0)
    const manifest = (await getJson('models/pinned', outputValue(resumed.stdout, 'MANIFESTDIGEST'))) as Manifest
    expect(manifest.annotations['org.opencontainers.image.base.digest']).to.equal(first.digest)
    const config = (await getJson('models/pinned', manifest.config.digest, 'blob')) as {config: {Env: string[]}}
    expect(config.config.Env).to.deep.equal(BASE_ENV)
  })

  it('verify --for kserve-sidecar fails on a FROM scratch image and names --base-image; image volumes take it', async () => {
    const digest = await push(['--target-repo', 'models/scratch', '--target-tag', 'v1'])
    const ref = `${target.host}/models/scratch@${digest}`
    const sidecar = await runCli(['verify', ref, '--for', 'kserve-sidecar'], env)
    expect(sidecar.code, sidecar.stdout + sidecar.stderr).to.equal(4)
    expect(sidecar.stderr).to.include('no /bin/sh').and.include('--base-image')
    expect(sidecar.stdout).to.include('NOT READY kserve-sidecar')
    const json = await runCli(['verify', ref, '--for', 'kserve-sidecar', '--json'], env)
    expect(json.code).to.equal(4)
    const findings = JSON.parse(json.stdout).consumers.findings.map((f: {detail: string}) => f.detail.split(':')[0])
    expect(findings).to.deep.equal(['no /bin/sh', 'no `ls`, `ln`, `sleep` on PATH (/usr/local/sbin'])
    const volume = await runCli(['verify', ref, '--for', 'image-volume,kserve-fetch'], env)
    expect(volume.code, volume.stdout + volume.stderr).to.equal(0)
  })

  it('verify --for fails on a zstd layer (fetch) and on files only their owner reads; an unknown consumer is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-zstd-'))
    mkdirSync(join(dir, 'models'))
    writeFileSync(join(dir, 'models/weights.bin'), 'weights')
    await execFileP('tar', ['--owner=0', '--group=0', '--mtime=@0', '-cf', join(dir, 'layer.tar'), '-C', dir, 'models'])
    const tar = readFileSync(join(dir, 'layer.tar'))
    await execFileP('zstd', ['-q', join(dir, 'layer.tar')])
    const zst = readFileSync(join(dir, 'layer.tar.zst'))
    const layer = {mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', bytes: zst, digest: sha256(zst)}
    await pushBlob(target.url, 'models/zstd', zst)
    const config = {architecture: 'amd64', os: 'linux', config: {}, rootfs: {type: 'layers', diff_ids: [sha256(tar)]}}
    const {digest} = await pushImage(target.url, 'models/zstd', 'v1', [layer], config)
    const res = await runCli(['verify', `${target.host}/models/zstd@${digest}`, '--for', 'kserve-fetch'], env)
    expect(res.code, res.stdout + res.stderr).to.equal(4)
    expect(res.stderr).to.include('layer 1 is application/vnd.oci.image.layer.v1.tar+zstd').and.include('tar and tar+gzip')
    // The same files as a plain tar, but a file only its owner can read: model servers run as any UID.
    await execFileP('tar', ['--owner=0', '--group=0', '--mtime=@0', '--mode=go-rwx', '-cf', join(dir, 'private.tar'), '-C', dir, 'models'])
    const plain = readFileSync(join(dir, 'private.tar'))
    const privateLayer = {mediaType: 'application/vnd.oci.image.layer.v1.tar', bytes: plain, digest: sha256(plain)}
    const privateConfig = {...config, rootfs: {type: 'layers', diff_ids: [sha256(plain)]}}
    const privateImage = await pushImage(target.url, 'models/private', 'v1', [privateLayer], privateConfig)
    const unreadable = await runCli(['verify', `${target.host}/models/private@${privateImage.digest}`, '--for', 'image-volume'], env)
    expect(unreadable.code, unreadable.stdout + unreadable.stderr).to.equal(4)
    expect(unreadable.stderr).to.include('not readable by every UID').and.include('/models/weights.bin (file 0600)')
    const bad = await runCli(['verify', `${target.host}/models/zstd@${digest}`, '--for', 'kserve'], env)
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.include('kserve-sidecar, image-volume, kserve-fetch')
  })
})
