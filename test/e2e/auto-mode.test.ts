// --upload-mode auto through each registry-quirk emulator: the push adapts and
// the image is byte-exact, with the same digest as a plain registry gives.
import {expect} from 'chai'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startQuirkRegistry, type QuirkRegistry} from '../fixtures/registry/quirks.js'
import {expectImageHolds, outputValue, requireRealTools, runCli, tempStateDb} from './helpers.js'

const MiB = 1024 * 1024
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01'
const QUIRK_FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"quirky"}\n')},
  {path: 'tokenizer.json', size: 300_001},
  {path: 'small.bin', size: 3 * MiB + 5, lfs: true},
  {path: 'model.safetensors', size: 21 * MiB + 7, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))

describe('e2e: --upload-mode auto through registry quirks', function () {
  this.timeout(240_000)
  let hub: HubSim
  let reg: TestRegistry
  const proxies: QuirkRegistry[] = []
  const state = tempStateDb

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({repos: [{id: 'acme/quirky', commits: [{sha: SHA, files: QUIRK_FILES}]}]})
    reg = await startRegistry()
  })
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()))
    await reg?.close()
    await hub?.close()
  })

  for (const profile of ['ghcr', 'ecr', 'no-chunked', 'artifactory-ha'] as const) {
    for (const chunkMiB of [4, 8]) {
      it(`${profile}, --chunk-mib ${chunkMiB}: --upload-mode auto pushes to completion; skopeo reads back every byte`, async () => {
        const q = await startQuirkRegistry(reg.url, profile)
        proxies.push(q)
        const repo = `auto/${profile}-${chunkMiB}`
        const res = await runCli(
          [
            'push',
            '--hf-repo',
            'acme/quirky',
            '--registry',
            q.host,
            '--target-repo',
            repo,
            '--upload-mode',
            'auto',
            '--chunk-mib',
            String(chunkMiB),
            '--workers',
            '2',
          ],
          {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
          {timeoutMs: 200_000},
        )
        expect(res.code, res.stderr).to.equal(0)
        const digest = outputValue(res.stdout, 'MANIFESTDIGEST')

        await expectImageHolds(`${q.host}/${repo}:${SHA.slice(0, 12)}`, QUIRK_FILES, {manifestDigest: digest})

        // Same revision into the plain registry: the same manifest digest whatever the upload mode.
        const plain = await runCli(
          ['push', '--hf-repo', 'acme/quirky', '--registry', reg.host, '--target-repo', `${repo}-plain`, '--chunk-mib', String(chunkMiB)],
          {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
        )
        expect(plain.code, plain.stderr).to.equal(0)
        expect(outputValue(plain.stdout, 'MANIFESTDIGEST')).to.equal(digest)

        // The quirks were met (auto mode had to adapt) and every blob was committed in the end.
        const quirked = q.records.filter((r) => r.quirks.length > 0)
        const patches = q.records.filter((r) => r.method === 'PATCH')
        if (profile === 'ghcr' && chunkMiB > 4) expect(quirked.some((r) => r.quirks.includes('ghcr-416'))).to.equal(true)
        if (profile === 'ecr') expect(patches.every((r) => r.status !== 202)).to.equal(true)
        if (profile === 'no-chunked') expect(patches.every((r) => r.upstreamStatus === undefined)).to.equal(true)
        if (profile === 'artifactory-ha') {
          // every session that committed carried at most one successful PATCH
          const okBySession = new Map<string, number>()
          for (const r of patches) if (r.upstreamStatus === 202) okBySession.set(r.session!, (okBySession.get(r.session!) ?? 0) + 1)
          expect([...okBySession.values()].every((n) => n === 1)).to.equal(true)
        }
        // no 5xx/4xx left unanswered: the last request of the push is the manifest PUT, and it succeeded
        const manifestPuts = q.records.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))
        expect(manifestPuts.length).to.be.greaterThan(0)
        expect(manifestPuts.every((r) => r.status === 201)).to.equal(true)
      })
    }
  }
})
