import {expect} from 'chai'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {registryClient} from '../../../src/lib/clients.js'
import {parseRegistry} from '../../../src/lib/oci/reference.js'
import {discover, discoveredFor, discoverySources, MAX_MANIFEST_READS, type Discovery} from '../../../src/lib/push/discover.js'
import {assignShards, splitTag, validateSplit} from '../../../src/lib/push/split.js'
import {layerSize} from '../../../src/lib/layer/tar.js'

describe('push/discover: which manifests a push reads', () => {
  const base = {targetRepo: 'm/model', tag: 'latest', alsoTags: ['v2'], fromImages: []}

  it('reads the target and --also-tag tags first, then commit-like tags (last listed first)', () => {
    const listedTags = ['latest', 'abc1234', 'v1', '0123456789ab', 'main-split-0-of-2', 'ABCDEF1', 'deadbeef'.repeat(5) + 'ff']
    const order = discoverySources({...base, listedTags}).map((s) => s.reference)
    // 41 hex and upper case are not commit prefixes; partial split tags are not either.
    expect(order).to.deep.equal(['latest', 'v2', '0123456789ab', 'abc1234'])
  })

  it('puts --from-image first and never reads the same manifest twice', () => {
    const fromImages = [{repository: 'm/old', reference: 'v1'}]
    const sources = discoverySources({...base, alsoTags: ['latest'], listedTags: ['abc1234', 'latest'], fromImages})
    expect(sources).to.deep.equal([
      {repository: 'm/old', reference: 'v1'},
      {repository: 'm/model', reference: 'latest'},
      {repository: 'm/model', reference: 'abc1234'},
    ])
  })

  it('is bounded: at most MAX_MANIFEST_READS sources, however many tags the registry lists', () => {
    const listedTags = Array.from({length: 500}, (_, i) => i.toString(16).padStart(12, '0'))
    const sources = discoverySources({...base, listedTags})
    expect(sources).to.have.length(MAX_MANIFEST_READS)
    expect(sources.slice(0, 3).map((s) => s.reference)).to.deep.equal(['latest', 'v2', listedTags.at(-1)])
    expect(discoverySources({...base, listedTags}, 3)).to.have.length(3)
    expect(discoverySources({...base, listedTags}, 0)).to.have.length(0)
  })
})

describe('push/discover: which discovered layers hold a file', () => {
  const lfs = {path: 'w.safetensors', size: 100, oid: 'p'.repeat(40), lfsSha256: 'a'.repeat(64), layerSize: layerSize('w.safetensors', 100)}
  const small = {path: 'config.json', size: 10, oid: 'b'.repeat(40), layerSize: layerSize('config.json', 10)}
  const layer = (path: string, size: number, contentSha256: string, gitBlobId?: string) => ({
    path,
    size,
    contentSha256,
    repository: 'm/model',
    digest: `sha256:${contentSha256.slice(0, 1).repeat(64)}`,
    from: 'm/model:abc1234',
    ...(gitBlobId ? {gitBlobId} : {}),
  })
  const discovery = (...layers: ReturnType<typeof layer>[]): Discovery => {
    const map = new Map<string, ReturnType<typeof layer>[]>()
    for (const l of layers) map.set(l.path, [...(map.get(l.path) ?? []), l])
    return {layers: map, manifestsRead: 1, notes: []}
  }

  it('matches an LFS file on path, layer size and content sha256', () => {
    expect(discoveredFor(lfs, discovery(layer(lfs.path, lfs.layerSize, 'a'.repeat(64))))).to.have.length(1)
    expect(discoveredFor(lfs, discovery(layer(lfs.path, lfs.layerSize, 'c'.repeat(64))))).to.have.length(0)
    expect(discoveredFor(lfs, discovery(layer(lfs.path, lfs.layerSize + 512, 'a'.repeat(64))))).to.have.length(0)
    expect(discoveredFor(lfs, discovery(layer('other.safetensors', lfs.layerSize, 'a'.repeat(64))))).to.have.length(0)
  })

  it('matches a non-LFS file on its git blob id, never on a content sha256 alone', () => {
    expect(discoveredFor(small, discovery(layer(small.path, small.layerSize, 'd'.repeat(64), small.oid)))).to.have.length(1)
    expect(discoveredFor(small, discovery(layer(small.path, small.layerSize, 'd'.repeat(64), 'e'.repeat(40))))).to.have.length(0)
    expect(discoveredFor(small, discovery(layer(small.path, small.layerSize, 'd'.repeat(64))))).to.have.length(0)
    expect(discoveredFor(small, undefined)).to.have.length(0)
  })
})

describe('push/split: the share of each shard', () => {
  const files = [
    {path: 'a', layerSize: 100},
    {path: 'b', layerSize: 90},
    {path: 'c', layerSize: 50},
    {path: 'd', layerSize: 40},
    {path: 'e', layerSize: 10},
  ]

  it('balances layer bytes greedily and depends on the listing alone, not its order', () => {
    const shards = assignShards(files, 2)
    expect(Object.fromEntries(shards)).to.deep.equal({a: 0, b: 1, c: 1, d: 0, e: 0})
    expect(Object.fromEntries(assignShards([...files].reverse(), 2))).to.deep.equal(Object.fromEntries(shards))
    expect(new Set(assignShards(files, 3).values())).to.deep.equal(new Set([0, 1, 2]))
    expect([...assignShards(files, 1).values()].every((i) => i === 0)).to.equal(true)
  })

  it('names partial tags and refuses shares that do not exist', () => {
    expect(splitTag('abc', {index: 1, count: 3})).to.equal('abc-split-1-of-3')
    expect(() => validateSplit({index: 3, count: 3})).to.throw('--split-index')
    expect(() => validateSplit({index: 0, count: 0})).to.throw('--split-count')
  })
})

describe('push/discover: against a registry', () => {
  it('asks for the named tags beside the tag listing, not after it (one round trip less before layers move)', async () => {
    const seen: string[] = []
    const arrived = new Map<string, number>()
    let listingAnswered = Infinity
    const server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      seen.push(`${req.method} ${path}`)
      arrived.set(`${req.method} ${path}`, performance.now())
      if (path === '/v2/') return void res.writeHead(200, {'content-type': 'application/json'}).end('{}')
      const notFound = () => res.writeHead(404, {'content-type': 'application/json'}).end('{"errors":[{"code":"NAME_UNKNOWN"}]}')
      // The listing answers late: whatever is asked meanwhile did not wait for it.
      if (path.endsWith('/tags/list')) return void setTimeout(() => ((listingAnswered = performance.now()), notFound()), 300)
      notFound()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
      const target = await registryClient(parseRegistry(host), 'm/model', {env: {}, maxRetries: 0})
      const found = await discover({
        target,
        clientFor: () => Promise.resolve(target),
        targetRepo: 'm/model',
        tag: 'c0ffee',
        alsoTags: ['latest'],
        fromImages: [],
      })
      expect(seen).to.include('GET /v2/m/model/tags/list')
      for (const tag of ['c0ffee', 'latest']) {
        const at = arrived.get(`GET /v2/m/model/manifests/${tag}`)
        expect(at, tag).to.not.equal(undefined)
        expect(at!, `${tag} asked before the listing answered`).to.be.below(listingAnswered)
      }
      // Both reads counted once, and nothing found: the push uploads everything.
      expect(found.manifestsRead).to.equal(2)
      expect(found.layers.size).to.equal(0)
      expect(seen.filter((r) => r.includes('/manifests/')).length).to.equal(2)
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
