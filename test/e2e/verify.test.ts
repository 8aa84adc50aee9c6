// modelcar verify end to end: images pushed by the CLI into a real
// docker-registry, verified clean, then broken for real (blobs deleted through
// the API, blob files overwritten on disk, crafted manifests, a moved Hub),
// plus a third-party image pushed with skopeo from a hand-built OCI layout.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, chmodSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {promisify} from 'node:util'
import {gzipSync} from 'node:zlib'
import {bytes} from '../../src/lib/ui/format.js'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy} from '../fixtures/registry/proxy.js'
import {type CliRun, outputValue, requireRealTools, runCli, tempStateDb} from './helpers.js'

const execFileP = promisify(execFile)
const SHA = 'b1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
const NEW_SHA = 'c0ffee00e5f60718293a4b5c6d7e8f9012345678'
const LONG = `deep/${'nested-folder-name/'.repeat(5)}weights-with-a-rather-long-name.bin`
const text = (path: string, body: string): SimFile => ({path, size: Buffer.byteLength(body), content: Buffer.from(body)})
const FILES: SimFile[] = [
  text('config.json', '{"model_type":"tiny","hidden_size":64}\n'),
  {path: 'tokenizer.json', size: 20_000},
  {path: LONG, size: 5000},
  {path: 'model.safetensors', size: 2 * 1024 * 1024 + 3, lfs: true},
]
// The Hub moves on: config.json grows past a 512-byte tar block (so even the
// layer size shows it), the weights change (same size), the tokenizer changes
// (same size, not LFS: only its git blob id tells), LONG goes, a file arrives.
const NEW_FILES: SimFile[] = [
  text('config.json', `{"model_type":"tiny","hidden_size":128,"notes":"${'x'.repeat(600)}"}\n`),
  {path: 'tokenizer.json', size: 20_000, seed: 'tokenizer v2'},
  {path: 'model.safetensors', size: 2 * 1024 * 1024 + 3, lfs: true, seed: 'weights v2'},
  text('generation_config.json', '{}'),
]
const TITLE = 'org.opencontainers.image.title'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

interface Manifest {
  config: {digest: string; size: number}
  layers: Array<{mediaType: string; digest: string; size: number; annotations: Record<string, string>; urls?: string[]}>
  annotations: Record<string, string>
}

describe('e2e: modelcar verify', function () {
  this.timeout(180_000)
  let hub: HubSim
  let reg: TestRegistry
  let env: NodeJS.ProcessEnv
  let digest: string
  const state = tempStateDb
  const verify = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['verify', ...args], {...env, ...extra})
  const json = (run: CliRun) => JSON.parse(run.stdout)
  const push = async (hfRepo: string, repo: string, extra: string[] = []) => {
    const res = await runCli(['push', '--hf-repo', hfRepo, '--registry', reg.host, '--target-repo', repo, '--target-tag', 'v1', ...extra], {
      ...env,
      MODELCAR_STATE_DB: state(),
    })
    expect(res.code, res.stderr).to.equal(0)
    return outputValue(res.stdout, 'MANIFESTDIGEST')
  }
  const api = (path: string, init?: RequestInit) => fetch(`${reg.url}/v2/${path}`, init)
  const manifestOf = async (repo: string, ref: string): Promise<Manifest> =>
    (await api(`${repo}/manifests/${ref}`, {headers: {accept: OCI_MANIFEST}})).json() as Promise<Manifest>
  const putManifest = async (repo: string, tag: string, m: unknown) => {
    const res = await api(`${repo}/manifests/${tag}`, {method: 'PUT', headers: {'content-type': OCI_MANIFEST}, body: JSON.stringify(m)})
    expect(res.status, await res.text()).to.equal(201)
  }
  const layerOf = (m: Manifest, title: string) => m.layers.find((l) => l.annotations[TITLE] === title)!

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      repos: [
        {id: 'acme/tiny', commits: [{sha: SHA, files: FILES}]},
        {
          id: 'acme/other',
          commits: [{sha: 'd'.repeat(40), files: [{path: 'weights.bin', size: 300_000, lfs: true, seed: 'other weights'}]}],
        },
      ],
    })
    reg = await startRegistry({deleteEnabled: true})
    env = {HF_ENDPOINT: hub.endpoint}
    const [d] = await Promise.all([
      push('acme/tiny', 'm/tiny'),
      push('acme/tiny', 'm/sub', ['--include', '*.json']),
      push('acme/tiny', 'm/broken'),
      push('acme/other', 'm/other'),
    ])
    digest = d
  })
  after(async () => {
    await reg?.close()
    await hub?.close()
  })

  it('passes a clean image: plain by tag, --deep by digest, --deep --against-hf --json', async () => {
    const [plain, deep, full] = await Promise.all([
      verify([`${reg.host}/m/tiny:v1`]),
      verify([`${reg.host}/m/tiny@${digest}`, '--deep', '--workers', '2']),
      verify([`${reg.host}/m/tiny:v1`, '--deep', '--against-hf', '--json']),
    ])
    expect(plain.code, plain.stderr).to.equal(0)
    expect(plain.stdout).to.match(/^DIGEST\s+KIND\s+TITLE\s+RESULT$/m)
    expect(plain.stdout).to.match(/^[0-9a-f]{12}\s+layer\s+model\.safetensors\s+ok$/m)
    expect(plain.stdout.trim().split('\n').at(-1)).to.equal(`OK ${reg.host}/m/tiny:v1@${digest}: 6 blobs, 6 ok`)
    expect(deep.code, deep.stderr).to.equal(0)
    expect(deep.stdout).to.match(/OK .*: 6 blobs, 6 ok; 4 files re-hashed, 2\.\d MiB read$/m)
    expect(full.code, full.stderr).to.equal(0)
    const result = json(full)
    expect(result).to.include({verdict: 'ok', exitCode: 0, manifestDigest: digest, deep: true})
    expect(result.blobs.map((b: {kind: string}) => b.kind)).to.deep.equal(['manifest', 'config', 'layer', 'layer', 'layer', 'layer'])
    const weights = result.blobs.find((b: {title?: string}) => b.title === 'model.safetensors')
    expect(weights.files).to.have.length(1)
    expect(weights.files[0]).to.include({path: 'models/model.safetensors', size: 2 * 1024 * 1024 + 3})
    expect(result.hub).to.have.length(1)
    expect(result.hub[0]).to.include({repo: 'acme/tiny', revision: SHA, commit: SHA})
    expect(result.hub[0].files.map((f: {result: string}) => f.result)).to.deep.equal(['ok', 'ok', 'ok', 'ok'])
  })

  it('verifies each platform manifest of an index', async () => {
    const manifestBytes = Buffer.from(await (await api(`m/tiny/manifests/${digest}`, {headers: {accept: OCI_MANIFEST}})).arrayBuffer())
    const entry = (architecture: string) => ({
      mediaType: OCI_MANIFEST,
      digest,
      size: manifestBytes.length,
      platform: {os: 'linux', architecture},
    })
    const index = {schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('amd64'), entry('arm64')]}
    const res = await api('m/tiny/manifests/multi', {
      method: 'PUT',
      headers: {'content-type': index.mediaType},
      body: JSON.stringify(index),
    })
    expect(res.status, await res.text()).to.equal(201)
    const run = await verify([`${reg.host}/m/tiny:multi`])
    expect(run.code, run.stderr).to.equal(0)
    expect(run.stdout).to.match(/^DIGEST\s+KIND\s+PLATFORM\s+TITLE\s+RESULT$/m)
    expect(run.stdout).to.match(/^[0-9a-f]{12}\s+index\s+ok$/m)
    expect(run.stdout).to.match(/^[0-9a-f]{12}\s+layer\s+linux\/arm64\s+config\.json\s+ok$/m)
    expect(run.stdout).to.match(/: 13 blobs, 13 ok$/m)
  })

  it('ls lists the files of an image from its manifest, per platform for an index, and layers that name no file', async () => {
    const m = await manifestOf('m/tiny', 'v1')
    const ls = (args: string[]) => runCli(['ls', ...args], env)
    const [plain, asJson] = await Promise.all([ls([`${reg.host}/m/tiny:v1`]), ls([`${reg.host}/m/tiny@${digest}`, '--json'])])
    expect(plain.code, plain.stderr).to.equal(0)
    const row = (title: string) => {
      const l = layerOf(m, title)
      return [title, bytes(l.size), l.annotations['dev.modelcar.content.sha256'].slice(0, 12), l.digest.slice(7, 19)]
    }
    const lines = plain.stdout.trimEnd().split('\n')
    expect(lines[0]).to.equal(`acme/tiny@${SHA.slice(0, 12)} (${digest.slice(7, 19)})`)
    expect(lines[1]).to.match(/^PATH\s+LAYER SIZE\s+SHA256\s+LAYER$/)
    const titles = ['config.json', LONG, 'model.safetensors', 'tokenizer.json']
    expect(lines.slice(2, 6).map((l) => l.split(/\s{2,}/))).to.deep.equal(titles.map(row))
    expect(row('model.safetensors')[1]).to.equal('2.0 MiB')
    expect(lines[6]).to.match(/^4 files, 2\.\d MiB in layers$/)
    const result = JSON.parse(asJson.stdout)
    expect(result).to.include({reference: `${reg.host}/m/tiny@${digest}`, manifestDigest: digest})
    expect(result.images).to.have.length(1)
    expect(result.images[0]).to.include({manifestDigest: digest, hfRepo: 'acme/tiny', revision: SHA})
    expect(result.images[0].files).to.deep.equal(
      titles.map((title) => {
        const l = layerOf(m, title)
        const gitBlob = l.annotations['dev.modelcar.git.blob']
        const sha256 = l.annotations['dev.modelcar.content.sha256']
        return {path: title, layerSize: l.size, sha256, layerDigest: l.digest, ...(gitBlob ? {gitBlobId: gitBlob} : {})}
      }),
    )
    expect(result.images[0].unnamedLayers).to.deep.equal([])

    const manifestBytes = Buffer.from(await (await api(`m/tiny/manifests/${digest}`, {headers: {accept: OCI_MANIFEST}})).arrayBuffer())
    const entry = (architecture: string) => ({
      mediaType: OCI_MANIFEST,
      digest,
      size: manifestBytes.length,
      platform: {os: 'linux', architecture},
    })
    const index = {schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('amd64'), entry('arm64')]}
    const put = await api('m/tiny/manifests/ls-multi', {
      method: 'PUT',
      headers: {'content-type': index.mediaType},
      body: JSON.stringify(index),
    })
    expect(put.status, await put.text()).to.equal(201)
    const multi = await ls([`${reg.host}/m/tiny:ls-multi`])
    expect(multi.code, multi.stderr).to.equal(0)
    expect(multi.stdout).to.include(`linux/amd64 (${digest.slice(7, 19)}) acme/tiny@${SHA.slice(0, 12)}\nPATH`)
    expect(multi.stdout).to.include(`\n\nlinux/arm64 (${digest.slice(7, 19)}) acme/tiny@${SHA.slice(0, 12)}\nPATH`)

    const third = await ls([await pushThirdParty(reg)])
    expect(third.code, third.stderr).to.equal(0)
    const [summary, unnamed] = third.stdout.trimEnd().split('\n')
    expect(summary).to.equal('0 files, 0 B in layers')
    expect(unnamed.startsWith('2 layers have no file annotation (org.opencontainers.image.title): ')).to.equal(true)
    expect(unnamed).to.match(/: [0-9a-f]{12} \(\d+ B\), [0-9a-f]{12} \(.+\)$/)
    const missing = await ls([`${reg.host}/m/tiny:nope`])
    expect(missing.code).to.equal(1)
    expect(missing.stderr).to.equal(`Error: ${reg.host}/m/tiny:nope does not exist: the registry has no manifest nope (404).\n`)
  })

  it('reports Hub files missing from an image pushed with --include, unless verify gets the same filter', async () => {
    const [all, same] = await Promise.all([
      verify([`${reg.host}/m/sub:v1`, '--against-hf']),
      verify([`${reg.host}/m/sub:v1`, '--against-hf', '--include', '*.json']),
    ])
    expect(all.code, all.stderr).to.equal(4)
    expect(all.stdout).to.match(/^model\.safetensors\s+missing from image/m)
    expect(all.stdout).to.match(/^deep\/nested.*\.bin\s+missing from image/m)
    expect(all.stderr).to.match(
      /^Error: .*m\/sub:v1 is not what it claims: Hub file deep\/.*: missing from image.*; Hub file model\.safetensors: missing from image/,
    )
    expect(all.stderr.trim().split('\n')).to.have.length(1)
    expect(same.code, same.stderr).to.equal(0)
  })

  it('compares with the commit the manifest names: changed, added and removed files on the Hub', async () => {
    hub.addCommit('acme/tiny', {sha: NEW_SHA, files: NEW_FILES})
    const m = await manifestOf('m/tiny', 'v1')
    m.annotations['org.opencontainers.image.revision'] = NEW_SHA
    await putManifest('m/tiny', 'moved', m)
    const [res, deep] = await Promise.all([
      verify([`${reg.host}/m/tiny:moved`, '--against-hf', '--json']),
      verify([`${reg.host}/m/tiny:moved`, '--against-hf', '--deep', '--json']),
    ])
    expect(res.code, res.stderr).to.equal(4)
    const files = Object.fromEntries(json(res).hub[0].files.map((f: {path: string; result: string}) => [f.path, f.result]))
    expect(files).to.deep.equal({
      'config.json': 'size mismatch',
      'generation_config.json': 'missing from image',
      'model.safetensors': 'sha256 mismatch',
      'tokenizer.json': 'ok', // same size, not LFS: only --deep can tell
      [LONG]: 'unexpected',
    })
    expect(json(res).blobs.every((b: {result: string}) => b.result === 'ok')).to.equal(true)
    expect(deep.code, deep.stderr).to.equal(4)
    const deepFiles = Object.fromEntries(json(deep).hub[0].files.map((f: {path: string; result: string}) => [f.path, f.result]))
    expect(deepFiles['tokenizer.json']).to.equal('content mismatch')
    expect(json(deep).error.message).to.match(/Hub file tokenizer\.json: content mismatch \(git blob id/)
  })

  it('refuses a hostile hf.repo or revision annotation before any Hub request', async () => {
    const m = await manifestOf('m/tiny', 'v1')
    await putManifest('m/tiny', 'evil-repo', {...m, annotations: {...m.annotations, 'dev.modelcar.hf.repo': '../../api/whoami?x='}})
    const evilRevision = {...m.annotations, 'org.opencontainers.image.revision': '../../../api/whoami?x='}
    await putManifest('m/tiny', 'evil-rev', {...m, annotations: evilRevision})
    const before = hub.requests.length
    const repo = await verify([`${reg.host}/m/tiny:evil-repo`, '--against-hf'])
    const rev = await verify([`${reg.host}/m/tiny:evil-rev`, '--against-hf', '--json'])
    expect(hub.requests.slice(before).map((r) => r.url)).to.deep.equal([])
    expect(repo.code, repo.stderr).to.equal(1)
    expect(repo.stdout).to.include(
      'Hub: not compared (annotation dev.modelcar.hf.repo "../../api/whoami?x=" is not a Hub repo id ' +
        '(repo ids are "name" or "org/name"): the Hub was not asked)',
    )
    expect(repo.stderr.trim().split('\n')).to.have.length(1)
    expect(rev.code, rev.stderr).to.equal(1)
    const revisionError = 'annotation org.opencontainers.image.revision "../../../api/whoami?x=" is not a commit sha or ref'
    expect(json(rev).hub[0].error.startsWith(revisionError)).to.equal(true)
  })

  it('reports a layer blob deleted through the registry API as missing, naming blob and file', async () => {
    const layer = layerOf(await manifestOf('m/broken', 'v1'), 'tokenizer.json')
    const del = await api(`m/broken/blobs/${layer.digest}`, {method: 'DELETE'})
    expect(del.status).to.equal(202)
    const [plain, asJson] = await Promise.all([
      verify([`${reg.host}/m/broken:v1`]),
      verify([`${reg.host}/m/broken:v1`, '--deep', '--json']),
    ])
    expect(plain.code, plain.stderr).to.equal(4)
    expect(plain.stdout).to.match(
      new RegExp(`^${layer.digest.slice(7, 19)}\\s+layer\\s+tokenizer\\.json\\s+missing: the registry answers 404$`, 'm'),
    )
    expect(plain.stdout).to.match(/^WRONG .*: 6 blobs, 5 ok, 1 missing$/m)
    const repair =
      `modelcar push --hf-repo acme/tiny --hf-revision ${SHA} --registry ${reg.host} --target-repo m/broken --target-tag v1 ` +
      `--include config.json --include ${LONG} --include model.safetensors --include tokenizer.json`
    expect(plain.stderr).to.equal(
      `Error: ${reg.host}/m/broken:v1 is not what it claims: layer ${layer.digest.slice(7, 19)} (tokenizer.json): ` +
        `missing (the registry answers 404); to repair, push again: ${repair}\n`,
    )
    const result = json(asJson)
    expect(asJson.code).to.equal(4)
    expect(result).to.include({verdict: 'wrong', exitCode: 4})
    expect(result.error).to.include({code: 'E_IMAGE_WRONG', exitCode: 4})
    expect(result.summary.byResult).to.deep.equal({ok: 5, missing: 1})
    expect(result.blobs.find((b: {result: string}) => b.result === 'missing').repair).to.equal(`push again: ${repair}`)
    // The command does repair it: the same image, the blob back.
    const fixed = await runCli(repair.split(' ').slice(1), {...env, MODELCAR_STATE_DB: state()})
    expect(fixed.code, fixed.stderr).to.equal(0)
    expect(outputValue(fixed.stdout, 'MANIFESTDIGEST')).to.equal(json(asJson).manifestDigest)
    const after = await verify([`${reg.host}/m/broken:v1`, '--deep'])
    expect(after.code, after.stderr).to.equal(0)
  })

  it('finds a blob overwritten on disk with other bytes of the same length only with --deep', async () => {
    const layer = layerOf(await manifestOf('m/other', 'v1'), 'weights.bin')
    const path = reg.blobPath(layer.digest)
    const bytes = readFileSync(path)
    bytes[2048 + 1000] ^= 0x5a // inside the file's content, after models/ and models/weights.bin headers
    writeFileSync(path, bytes)
    const [plain, deep] = await Promise.all([verify([`${reg.host}/m/other:v1`]), verify([`${reg.host}/m/other:v1`, '--deep'])])
    expect(plain.code, plain.stderr).to.equal(0) // HEAD sees the right name and length
    expect(deep.code, deep.stderr).to.equal(4)
    const row = deep.stdout.split('\n').find((l) => l.startsWith(layer.digest.slice(7, 19)))!
    expect(row).to.match(/layer\s+weights\.bin\s+digest mismatch: its bytes hash to sha256:[0-9a-f]{64} \(\+1 more\)$/)
    expect(deep.stderr).to.match(
      new RegExp(`^Error: .*m/other:v1 is not what it claims: layer ${layer.digest.slice(7, 19)} \\(weights\\.bin\\): digest mismatch`),
    )
    const again = await verify([`${reg.host}/m/other:v1`, '--deep', '--json'])
    const problems = json(again)
      .blobs.find((b: {title?: string}) => b.title === 'weights.bin')
      .problems.map((p: {kind: string; detail: string}) => `${p.kind}: ${p.detail}`)
    expect(problems[0]).to.match(/^digest mismatch/)
    expect(problems[1]).to.match(/^content mismatch: models\/weights\.bin has sha256 [0-9a-f]{12}…, the annotation says/)
  })

  it('refuses a manifest whose bytes do not hash to the @sha256 of the reference (same length, one byte changed on disk)', async () => {
    // Its own manifest (no other test shares the blob file changed here).
    const forged = await push('acme/tiny', 'm/forged', ['--exclude', '*.json', '--hf-revision', SHA])
    const path = reg.blobPath(forged)
    const bytes = readFileSync(path)
    const at = bytes.indexOf(Buffer.from(SHA))
    expect(at).to.be.greaterThan(0)
    bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61 // inside the revision annotation: still valid JSON
    writeFileSync(path, bytes)
    for (const ref of [`${reg.host}/m/forged@${forged}`, `${reg.host}/m/forged:v1`]) {
      const res = await verify([ref])
      expect(res.code, `${ref}: ${res.stderr}`).to.equal(4)
      expect(res.stderr, ref)
        .to.match(/manifest/i)
        .and.to.include(forged.slice(7, 19))
    }
  })

  it('refuses a registry whose Docker-Content-Digest header names other bytes than it sends', async () => {
    const proxy = await startFaultProxy(reg.url)
    try {
      const liar = `sha256:${'a'.repeat(64)}`
      proxy.onResponse = (req, res) => {
        if (req.path.includes('/manifests/')) res.headers['docker-content-digest'] = liar
      }
      const res = await verify([`${proxy.host}/m/tiny:v1`])
      expect(res.code, res.stderr).to.equal(4)
      expect(res.stderr).to.include(liar.slice(7, 19))
    } finally {
      await proxy.close()
    }
  })

  it('reports manifests that reference a missing blob or state a wrong size, and a missing tag', async () => {
    const m = await manifestOf('m/tiny', 'v1')
    const ghost = `sha256:${createHash('sha256').update('a blob nobody pushed').digest('hex')}`
    m.layers.push({mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ghost, size: 4096, annotations: {[TITLE]: 'ghost.bin'}})
    layerOf(m, 'config.json').size += 512
    // distribution refuses such a manifest on PUT: write it into its storage as a PUT would have.
    storeManifest(reg, 'm/tiny', 'crafted', Buffer.from(JSON.stringify(m)))
    const [res, absent, badRef, badWorkers] = await Promise.all([
      verify([`${reg.host}/m/tiny:crafted`, '--json']),
      verify([`${reg.host}/m/tiny:no-such-tag`]),
      verify(['Not A Reference']),
      verify([`${reg.host}/m/tiny:v1`, '--deep', '--workers', '9']),
    ])
    expect(res.code, res.stderr).to.equal(4)
    const rows = Object.fromEntries(
      json(res).blobs.map((b: {kind: string; title?: string; result: string}) => [b.title ?? b.kind, b.result]),
    )
    expect(rows).to.include({'ghost.bin': 'missing', 'config.json': 'size mismatch', config: 'content mismatch', manifest: 'ok'})
    expect(json(res).error.message).to.match(
      /layer [0-9a-f]{12} \(config\.json\): size mismatch \(the registry has \d+ bytes, the manifest says \d+\)/,
    )
    expect(json(res).error.message).to.match(/config [0-9a-f]{12}: content mismatch \(rootfs\.diff_ids has 4 entries for 5 layers\)/)
    expect(absent.code).to.equal(4)
    expect(absent.stdout).to.match(/^-\s+manifest\s+missing: the registry has no manifest no-such-tag \(404\)$/m)
    expect(absent.stderr).to.equal(
      `Error: ${reg.host}/m/tiny:no-such-tag does not exist: the registry has no manifest no-such-tag (404); check the repository and tag, or push the image.\n`,
    )
    expect(badRef.code).to.equal(2)
    expect(badRef.stderr).to.match(/^Error: Invalid image reference "Not A Reference"/)
    expect(badWorkers.code).to.equal(2)
    expect(badWorkers.stderr).to.match(/--workers must be a whole number from 1 to 8/)
  })

  it('checks a third-party image (gzip layer, skopeo push) for digests and hygiene only', async () => {
    const ref = await pushThirdParty(reg)
    const [plain, deep, againstHf] = await Promise.all([verify([ref]), verify([ref, '--deep', '--json']), verify([ref, '--against-hf'])])
    expect(plain.code, plain.stderr).to.equal(0)
    expect(deep.code, deep.stderr).to.equal(4)
    const [config, gz, bad] = json(deep).blobs.slice(1)
    expect(config.result).to.equal('ok') // diff_ids, including the gzip layer's uncompressed digest
    expect(gz).to.include({mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', result: 'ok'})
    expect(gz.files).to.deep.equal([
      {path: 'models/ok.txt', size: 3, sha256: createHash('sha256').update('ok\n').digest('hex'), gitOid: gitOid('ok\n')},
    ])
    expect(bad.result).to.equal('hygiene')
    expect(bad.problems.map((p: {detail: string}) => p.detail)).to.have.members([
      '"../evil" climbs out with ".."',
      'symlink "models/pw" → "/etc/passwd" points outside models/',
      '"models/secret.bin" has mode 0600, not 0644',
    ])
    expect(json(deep).error.message).to.match(/layer [0-9a-f]{12}: hygiene \("\.\.\/evil" climbs out with "\.\."\)/)
    expect(againstHf.code).to.equal(1)
    expect(againstHf.stderr).to.match(/could not be fully checked: .*the manifest names no Hub repo/)
  })

  it('verifies with pull access only on a token registry; refused credentials exit 1 in one line', async () => {
    const tokenReg = await startRegistry({auth: 'token', anonymousAccess: 'pull'})
    try {
      const creds = {OCI_USERNAME: 'alice', OCI_PASSWORD: tokenReg.users.alice}
      const pushed = await runCli(
        ['push', '--hf-repo', 'acme/other', '--registry', tokenReg.host, '--target-repo', 'tok/other', '--target-tag', 'v1'],
        {...env, ...creds, MODELCAR_STATE_DB: state()},
      )
      expect(pushed.code, pushed.stderr).to.equal(0)
      const [anon, alice, wrong] = await Promise.all([
        verify([`${tokenReg.host}/tok/other:v1`, '--deep']),
        verify([`${tokenReg.host}/tok/other:v1`], creds),
        verify([`${tokenReg.host}/tok/other:v1`], {...creds, OCI_PASSWORD: 'wrong-password'}),
      ])
      expect(anon.code, anon.stderr).to.equal(0)
      expect(alice.code, alice.stderr).to.equal(0)
      const scopes = tokenReg.tokenServer!.issued.filter((t) => t.user === undefined).flatMap((t) => t.requestedScopes)
      expect(scopes).to.include('repository:tok/other:pull').and.not.to.include('repository:tok/other:pull,push')
      expect(wrong.code).to.equal(1)
      expect(wrong.stderr.trim().split('\n')).to.have.length(1)
      expect(wrong.stderr).to.match(/^Error: Could not check .*refused the credentials from OCI_USERNAME\/OCI_PASSWORD/)
      expect(wrong.stderr).not.to.include('wrong-password')
    } finally {
      await tokenReg.close()
    }
  })
})

/** A manifest and a tag written into distribution's filesystem storage, bypassing its checks. */
function storeManifest(reg: TestRegistry, repo: string, tag: string, bytes: Buffer): void {
  const digest = sha256(bytes)
  const hex = digest.slice(7)
  const put = (path: string, data: Buffer | string) => {
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, data)
  }
  const manifests = join(reg.storageDir, 'docker/registry/v2/repositories', repo, '_manifests')
  put(reg.blobPath(digest), bytes)
  put(join(manifests, 'revisions/sha256', hex, 'link'), digest)
  put(join(manifests, 'tags', tag, 'index/sha256', hex, 'link'), digest)
  put(join(manifests, 'tags', tag, 'current/link'), digest)
}

function gitOid(text: string): string {
  return createHash('sha1')
    .update(`blob ${Buffer.byteLength(text)}\0`)
    .update(text)
    .digest('hex')
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

/**
 * An OCI layout built by hand: a gzip layer made with GNU tar (clean), and an
 * uncompressed one with "../evil", a symlink to /etc/passwd and a 0600 file.
 * skopeo pushes it as is (--preserve-digests).
 */
async function pushThirdParty(reg: TestRegistry): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'mc-3p-'))
  const tar = async (cwd: string, args: string[]) =>
    (
      await execFileP(
        'tar',
        ['--format=gnu', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '-cf', '-', ...args],
        {cwd, encoding: 'buffer', maxBuffer: 16 << 20},
      )
    ).stdout
  const clean = join(root, 'clean')
  mkdirSync(join(clean, 'models'), {recursive: true})
  writeFileSync(join(clean, 'models/ok.txt'), 'ok\n')
  chmodSync(join(clean, 'models'), 0o755)
  chmodSync(join(clean, 'models/ok.txt'), 0o644)
  const cleanTar = await tar(clean, ['models'])
  const dirty = join(root, 'dirty', 'work')
  mkdirSync(join(dirty, 'models'), {recursive: true})
  writeFileSync(join(root, 'dirty', 'evil'), 'x\n')
  chmodSync(join(root, 'dirty', 'evil'), 0o644)
  symlinkSync('/etc/passwd', join(dirty, 'models/pw'))
  writeFileSync(join(dirty, 'models/secret.bin'), 'secret\n')
  chmodSync(join(dirty, 'models/secret.bin'), 0o600)
  const dirtyTar = await tar(dirty, ['-P', '../evil', 'models/pw', 'models/secret.bin'])

  const layout = join(root, 'layout')
  mkdirSync(join(layout, 'blobs', 'sha256'), {recursive: true})
  const put = (data: Buffer | string) => {
    const d = sha256(data)
    writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), data)
    return {digest: d, size: Buffer.byteLength(data)}
  }
  const gz = gzipSync(cleanTar)
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: {type: 'layers', diff_ids: [sha256(cleanTar), sha256(dirtyTar)]},
  })
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config)},
    layers: [
      {mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gz)},
      {mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(dirtyTar)},
    ],
  })
  const m = put(manifest)
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{mediaType: OCI_MANIFEST, ...m, annotations: {'org.opencontainers.image.ref.name': 'v1'}}],
    }),
  )
  const ref = `${reg.host}/third/party:v1`
  await execFileP('skopeo', ['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ref}`])
  return ref
}
