import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createSha256, saveableHashes, savedStateSize} from '../../../src/lib/hash/sha256.js'
import {checkpointFromRow, checkpointToRow, packHashStates, savedStateOffset, unpackHashStates} from '../../../src/lib/state/checkpoint.js'
import {openStateDb} from '../../../src/lib/state/db.js'
import {RunStore} from '../../../src/lib/state/runs.js'
import {requireTools} from '../../fixtures/require-tool.js'

describe('state/checkpoint', () => {
  it('packs both hash states with their offset, and unpacks them into hashes that continue', function () {
    requireTools(this, saveableHashes, 'native/sha256_state.c is not built: run `node scripts/test-prereqs.js` (npm test runs it first)')
    const layer = createSha256()
    const content = createSha256()
    layer.update(Buffer.from('tar header and '))
    content.update(Buffer.from('content '))
    const packed = packHashStates({offset: 15, layer: layer.save()!, content: content.save()!})
    expect(packed.length).to.equal(9 + 2 * savedStateSize)
    expect(savedStateOffset(packed)).to.equal(15)
    const states = unpackHashStates(packed)!
    const resumed = createSha256(states.layer)
    resumed.update(Buffer.from('more'))
    layer.update(Buffer.from('more'))
    expect(resumed.hex()).to.equal(layer.hex())
  })

  it('refuses states of another format or size', () => {
    expect(unpackHashStates(Buffer.from([9, 9, 9]))).to.equal(undefined)
    expect(savedStateOffset(Buffer.alloc(9 + 2 * savedStateSize, 2))).to.equal(undefined)
  })

  it('reads a saved row back as the checkpoint it was written from', () => {
    const location = new URL('http://127.0.0.1:5000/v2/m/blobs/uploads/abc?_state=x')
    const cp = {location, offset: 8 << 20, hashState: Buffer.from([1, 2, 3])}
    expect(checkpointToRow(cp)).to.deep.equal({upload_location: cp.location.href, upload_offset: cp.offset, hash_state: cp.hashState})
    expect(checkpointFromRow(checkpointToRow(cp))).to.deep.equal(cp)
    const bare = checkpointFromRow({upload_location: 'https://r.example/v2/m/blobs/uploads/1', upload_offset: 0, hash_state: null})
    expect(bare).to.deep.equal({location: new URL('https://r.example/v2/m/blobs/uploads/1'), offset: 0})
  })

  it('a row without a usable checkpoint gives none (the layer starts over)', () => {
    const row = (upload_location: string | null, upload_offset: number | null) => ({upload_location, upload_offset, hash_state: null})
    expect(checkpointFromRow(undefined)).to.equal(undefined)
    expect(checkpointFromRow(row(null, null))).to.equal(undefined)
    expect(checkpointFromRow(row('http://r/v2/u', null))).to.equal(undefined)
    expect(checkpointFromRow(row('http://r/v2/u', -1))).to.equal(undefined)
    expect(checkpointFromRow(row('http://r/v2/u', 1.5))).to.equal(undefined)
    expect(checkpointFromRow(row('not a url', 10))).to.equal(undefined)
    expect(checkpointFromRow(row('ftp://r/u', 10))).to.equal(undefined)
    // file: is an OCI layout's session; the layout takes only its own (test/lib/oci/layout.test.ts).
    expect(checkpointFromRow(row('file:///work/layout/.modelcar-uploads/u', 10))?.location.protocol).to.equal('file:')
  })

  it('the run store keeps a checkpoint and gives it back; a checkpoint without hash state keeps the last one', () => {
    const db = openStateDb(join(mkdtempSync(join(tmpdir(), 'mc-cp-')), 'state.db'))
    try {
      const runs = new RunStore(db)
      const id = runs.create({
        pushKey: 'k',
        hfSha: 'a'.repeat(40),
        hfEndpoint: 'http://hub',
        hfRepo: 'o/m',
        hfRevision: 'main',
        registry: 'r',
        targetRepo: 'm',
        params: {},
      })
      runs.setPlan(id, {sha: 'a'.repeat(40), tag: 't', files: [{path: 'f.bin', size: 10, layerSize: 2048, oid: 'o'}]})
      expect(runs.savedCheckpoint(id, 'f.bin')).to.equal(undefined)
      const location = new URL('http://127.0.0.1:1/v2/m/blobs/uploads/u')
      runs.checkpoint(id, 'f.bin', {location, offset: 512, hashState: Buffer.from([7])})
      runs.checkpoint(id, 'f.bin', {location, offset: 1024})
      expect(runs.savedCheckpoint(id, 'f.bin')).to.deep.equal({location, offset: 1024, hashState: Buffer.from([7])})
      runs.clearCheckpoint(id, 'f.bin')
      expect(runs.savedCheckpoint(id, 'f.bin')).to.equal(undefined)
    } finally {
      db.close()
    }
  })
})
