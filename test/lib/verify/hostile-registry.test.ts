// verify against a registry that misbehaves on purpose: answers far larger
// than declared (read under a cap on the bytes actually read, in small
// memory), and blobs that end short of their announced length on every retry.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {ModelcarError} from '../../../src/lib/errors.js'
import {parseImageReference} from '../../../src/lib/oci/reference.js'
import {verify, type VerifyParams} from '../../../src/lib/verify/service.js'
import type {VerifyResult} from '../../../src/lib/verify/types.js'
import {startHostileRegistry, type HostileBody, type HostileRegistry} from '../../fixtures/hostile/registry.js'

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`
const FLOOD = 80 * 1024 * 1024
const LAYER = Buffer.alloc(5120, 7)
const CONFIG = Buffer.from(JSON.stringify({architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: [sha(LAYER)]}}))

function manifest(config: {digest: string; size: number}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...config},
      layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(LAYER), size: LAYER.length}],
    }),
  )
}

/** Peak RSS growth while `fn` runs, sampled every few milliseconds. */
async function peakGrowth<T>(fn: () => Promise<T>): Promise<{value: T; growth: number}> {
  global.gc?.()
  const base = process.memoryUsage().rss
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2)
  try {
    const value = await fn()
    peak = Math.max(peak, process.memoryUsage().rss)
    return {value, growth: peak - base}
  } finally {
    clearInterval(timer)
  }
}

describe('verify against a hostile registry', function () {
  this.timeout(60_000)
  let reg: HostileRegistry | undefined
  afterEach(async () => {
    await reg?.close()
    reg = undefined
  })

  async function run(manifests: Record<string, HostileBody>, blobs: Record<string, HostileBody>, over: Partial<VerifyParams> = {}) {
    reg = await startHostileRegistry({manifests, blobs})
    const params: VerifyParams = {
      reference: parseImageReference(`${reg.host}/r:v1`),
      deep: false,
      againstHf: false,
      include: [],
      exclude: [],
      workers: 2,
      maxRetries: 1,
      ...over,
    }
    return peakGrowth(() =>
      verify(params, {env: {}}).then(
        (r): VerifyResult | Error => r,
        (e: Error) => e,
      ),
    )
  }

  it('stops reading a config that floods past its declared size, in small memory', async () => {
    const configDigest = sha(CONFIG)
    const manifests = {v1: {bytes: manifest({digest: configDigest, size: CONFIG.length})}}
    const {value, growth} = await run(manifests, {[configDigest]: {flood: FLOOD}, [sha(LAYER)]: {bytes: LAYER}})
    const result = value as VerifyResult
    expect(result.exitCode).to.equal(4)
    const config = result.blobs.find((b) => b.kind === 'config')!
    const detail = `the registry sends more than the ${CONFIG.length} bytes the manifest says (reading stopped there)`
    expect(config.problems).to.deep.equal([{kind: 'size mismatch', detail}])
    expect(reg!.served.get(`/v2/r/blobs/${configDigest}`)).to.be.below(8 << 20)
    expect(growth).to.be.below(40 << 20)
  })

  it('refuses a manifest of 80 MB without Content-Length with one line, in small memory', async () => {
    const {value, growth} = await run({v1: {flood: FLOOD}}, {})
    expect(value).to.be.instanceOf(ModelcarError)
    expect(value).to.include({exitCode: 1, code: 'E_MANIFEST_TOO_LARGE'})
    expect((value as Error).message).to.equal(
      `Could not check ${reg!.host}/r:v1: The manifest v1 is over the 4194304-byte limit for manifests.`,
    )
    expect(reg!.served.get('/v2/r/manifests/v1')).to.be.below(16 << 20)
    expect(growth).to.be.below(40 << 20)
  })

  it('does not read a config the manifest declares over the limit, and says so', async () => {
    const configDigest = sha(CONFIG)
    const manifests = {v1: {bytes: manifest({digest: configDigest, size: FLOOD})}}
    const {value} = await run(manifests, {[configDigest]: {flood: FLOOD}, [sha(LAYER)]: {bytes: LAYER}})
    const result = value as VerifyResult
    expect(result.exitCode).to.equal(1)
    expect(result.blobs.find((b) => b.kind === 'config')!.problems).to.deep.equal([
      {kind: 'unchecked', detail: `the manifest says the config is ${FLOOD} bytes, over the 4194304-byte limit for configs: not read`},
    ])
    expect(reg!.served.get(`/v2/r/blobs/${configDigest}`)).to.equal(undefined)
  })

  it('calls a layer that ends short on every retry broken: announced N bytes, sent M (exit 4)', async () => {
    const configDigest = sha(CONFIG)
    const {value} = await run(
      {v1: {bytes: manifest({digest: configDigest, size: CONFIG.length})}},
      {[configDigest]: {bytes: CONFIG}, [sha(LAYER)]: {bytes: LAYER.subarray(0, 3000), announce: LAYER.length, short: true}},
      {deep: true},
    )
    const result = value as VerifyResult
    expect(result.exitCode).to.equal(4)
    const layer = result.blobs.find((b) => b.kind === 'layer')!
    expect(layer.result).to.equal('size mismatch')
    const detail = 'the registry announced 5120 bytes, sent 3000 (on each of 2 attempts)'
    expect(layer.problems[0]).to.deep.equal({kind: 'size mismatch', detail})
    expect(layer.repair).to.equal(
      'delete the blob and garbage-collect the registry (it keeps the bytes it has under a digest), ' +
        'then push the image again from its source',
    )
  })
})
