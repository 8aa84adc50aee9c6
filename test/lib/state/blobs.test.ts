import {expect} from 'chai'
import {BlobStore, sourceKey} from '../../../src/lib/state/blobs.js'
import {tempDb} from './temp-db.js'

const blob = (repository: string, digest: string, key = 'k1') => ({
  registry: 'r:5000',
  repository,
  digest,
  size: 2048,
  sourceKey: key,
  contentSha256: 'c',
})

describe('state/blobs', () => {
  it('keys a layer by its path, size and content id (LFS sha256 before git oid)', () => {
    expect(sourceKey({path: 'a/b.bin', size: 5, oid: 'o', lfsSha256: 'f'.repeat(64)})).to.equal(
      `a/b.bin\u00005\u0000sha256:${'f'.repeat(64)}`,
    )
    expect(sourceKey({path: 'a.json', size: 3, oid: 'abc'})).to.equal('a.json\u00003\u0000git:abc')
    expect(sourceKey({path: 'a.json', size: 3, oid: 'abc'})).to.not.equal(sourceKey({path: 'b.json', size: 3, oid: 'abc'}))
  })

  it('finds blobs with the same bytes on the same registry, this repository first, then the newest', async () => {
    const store = new BlobStore(tempDb().db)
    store.record(blob('other', 'sha256:1'))
    await new Promise((r) => setTimeout(r, 5))
    store.record(blob('third', 'sha256:2'))
    store.record(blob('mine', 'sha256:3'))
    store.record({...blob('mine', 'sha256:4'), registry: 'elsewhere'})
    store.record(blob('mine', 'sha256:5', 'k2'))
    expect(store.find('r:5000', 'mine', 'k1').map((b) => b.digest)).to.deep.equal(['sha256:3', 'sha256:2', 'sha256:1'])
    expect(store.find('r:5000', 'mine', 'k1')[0]).to.deep.equal({repository: 'mine', digest: 'sha256:3', size: 2048, contentSha256: 'c'})
    expect(store.find('r:5000', 'mine', 'nothing')).to.deep.equal([])
  })

  it('records a blob again without duplicating it, and returns at most five', () => {
    const store = new BlobStore(tempDb().db)
    for (let i = 0; i < 7; i++) store.record(blob(`repo${i}`, 'sha256:x'))
    store.record(blob('repo0', 'sha256:x'))
    expect(store.find('r:5000', 'repo0', 'k1')).to.have.length(5)
    expect(store.db.prepare('SELECT count(*) AS n FROM blobs').get()).to.deep.equal({n: 7})
    store.record(blob('repo0', 'sha256:x', 'k9'))
    expect(store.find('r:5000', 'repo0', 'k9').map((b) => b.repository)).to.deep.equal(['repo0'])
  })
})
