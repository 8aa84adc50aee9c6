// LayoutTarget: an OCI image layout on disk behind the calls a push makes to a registry.
import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {RegistryRefusedError, UploadGoneError} from '../../../src/lib/oci/client.js'
import {digestOf} from '../../../src/lib/oci/digest.js'
import {BlobNotFoundError} from '../../../src/lib/oci/blob-reader.js'
import {LayoutTarget, REF_NAME, UPLOADS_DIR} from '../../../src/lib/oci/layout.js'
import {LayoutReader} from '../../../src/lib/oci/layout-reader.js'
import {parseLayoutReference, parseLayoutTarget} from '../../../src/lib/oci/layout-reference.js'
import {MEDIA} from '../../../src/lib/oci/types.js'

const BYTES = Buffer.from(Array.from({length: 100_000}, (_, i) => (i * 7919) % 251))
const DIGEST = digestOf(BYTES)

/** `bytes` handed out at most `max` (and at most 7000) at a time, as a Hub body would. */
function puller(bytes: Buffer): (max: number) => Promise<Buffer> {
  let at = 0
  return async (max) => {
    const piece = bytes.subarray(at, at + Math.min(max, 7000))
    at += piece.length
    return piece
  }
}

async function layout(): Promise<LayoutTarget> {
  const target = new LayoutTarget(join(mkdtempSync(join(tmpdir(), 'mc-layout-unit-')), 'l'))
  await target.ping()
  return target
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

const index = (t: LayoutTarget) => JSON.parse(readFileSync(join(t.dir, 'index.json'), 'utf8'))
const tagsOf = (t: LayoutTarget) => index(t).manifests.map((m: {annotations?: Record<string, string>}) => m.annotations?.[REF_NAME])

describe('oci/layout', () => {
  it('creates a layout in a new directory, reopens it, and refuses a directory that holds something else', async () => {
    const t = await layout()
    expect(JSON.parse(readFileSync(join(t.dir, 'oci-layout'), 'utf8'))).to.deep.equal({imageLayoutVersion: '1.0.0'})
    expect(index(t)).to.deep.equal({schemaVersion: 2, mediaType: MEDIA.index, manifests: []})
    expect(statSync(join(t.dir, 'blobs', 'sha256')).isDirectory()).to.equal(true)
    await new LayoutTarget(t.dir).ping()

    const other = mkdtempSync(join(tmpdir(), 'mc-layout-other-'))
    writeFileSync(join(other, 'notes.txt'), 'mine')
    expect((await rejection(new LayoutTarget(other).ping())).message).to.match(
      /is neither empty nor an OCI image layout \(it holds notes\.txt\)/,
    )
    const future = mkdtempSync(join(tmpdir(), 'mc-layout-v2-'))
    writeFileSync(join(future, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}')
    expect((await rejection(new LayoutTarget(future).ping())).message).to.match(/does not say imageLayoutVersion 1\.0\.0/)
  })

  it('reopening sweeps temporary files a killed process left, and keeps upload sessions (a run may resume them)', async () => {
    const t = await layout()
    const uploads = join(t.dir, UPLOADS_DIR)
    const old = new Date(Date.now() - 3600_000)
    for (const name of ['old.tmp', 'fresh.tmp', 'old-session']) writeFileSync(join(uploads, name), 'x')
    for (const name of ['old.tmp', 'old-session']) utimesSync(join(uploads, name), old, old)
    await new LayoutTarget(t.dir).ping()
    expect(readdirSync(uploads).sort()).to.deep.equal(['fresh.tmp', 'old-session'])
  })

  it('an upload in appends: the status is the bytes held, the commit renames the checked file into blobs/', async () => {
    const t = await layout()
    const {location} = await t.startUpload()
    expect(location.protocol).to.equal('file:')
    const pull = puller(BYTES)
    await t.patchStream(location, 0, 60_000, pull)
    expect((await t.uploadStatus(location)).size).to.equal(60_000)
    await t.patchStream(location, 60_000, BYTES.length - 60_000, pull)
    expect(await t.headBlob(DIGEST)).to.equal(undefined)
    await t.commitUpload(location, DIGEST, BYTES.length)
    expect(readFileSync(t.blobPath(DIGEST)).equals(BYTES)).to.equal(true)
    expect(await t.headBlob(DIGEST)).to.deep.equal({size: BYTES.length, digest: DIGEST})
    expect(readdirSync(join(t.dir, UPLOADS_DIR))).to.deep.equal([])
    // A commit the process did not live to record: the blob is there, the commit succeeds again.
    await t.commitUpload(location, DIGEST, BYTES.length)
  })

  it('a write that failed before it was acknowledged is cut: the next one starts at the acknowledged offset', async () => {
    const t = await layout()
    const {location} = await t.startUpload()
    await t.patchStream(location, 0, 50_000, puller(BYTES))
    let given = 0
    const failing = async () => {
      if (given > 0) throw new Error('the Hub went away')
      given++
      return Buffer.alloc(5000, 0xee)
    }
    expect((await rejection(t.patchStream(location, 50_000, 20_000, failing))).message).to.equal('the Hub went away')
    expect((await t.uploadStatus(location)).size).to.equal(55_000)
    await t.patchStream(location, 50_000, BYTES.length - 50_000, puller(BYTES.subarray(50_000)))
    await t.commitUpload(location, DIGEST, BYTES.length)
    expect(readFileSync(t.blobPath(DIGEST)).equals(BYTES)).to.equal(true)
  })

  it('commit refuses bytes that do not hash to the digest, and nothing enters blobs/', async () => {
    const t = await layout()
    const {location} = await t.startUpload()
    const wrong = Buffer.from(BYTES)
    wrong[777] ^= 1
    await t.patchStream(location, 0, wrong.length, puller(wrong))
    const error = await rejection(t.commitUpload(location, DIGEST, BYTES.length))
    expect(error).to.be.instanceOf(RegistryRefusedError)
    expect((error as RegistryRefusedError).errorCode).to.equal('DIGEST_INVALID')
    const short = await rejection(t.commitUpload(location, DIGEST, BYTES.length + 1))
    expect((short as RegistryRefusedError).errorCode).to.equal('SIZE_INVALID')
    expect(readdirSync(join(t.dir, 'blobs', 'sha256'))).to.deep.equal([])
    await t.cancelUpload(location)
    expect(readdirSync(join(t.dir, UPLOADS_DIR))).to.deep.equal([])
    expect(await rejection(t.pushBlob(wrong, DIGEST))).to.be.instanceOf(RegistryRefusedError)
  })

  it('takes only its own sessions: a location elsewhere (a damaged state db) is a gone session', async () => {
    const t = await layout()
    for (const outside of [
      pathToFileURL('/etc/passwd'),
      pathToFileURL(join(t.dir, 'index.json')),
      new URL('http://r/v2/x/blobs/uploads/1'),
    ]) {
      expect(await rejection(t.uploadStatus(outside)), outside.href).to.be.instanceOf(UploadGoneError)
      expect(await rejection(t.patchStream(outside, 0, 1, puller(BYTES))), outside.href).to.be.instanceOf(UploadGoneError)
    }
    expect(readFileSync('/etc/passwd').length).to.be.greaterThan(0)
  })

  it('index.json: a tag replaces only its own entry, other tags and foreign entries stay; each update is a new file renamed in', async () => {
    const t = await layout()
    const foreign = {mediaType: MEDIA.manifest, digest: DIGEST, size: 1, annotations: {'vendor.note': 'kept'}}
    writeFileSync(join(t.dir, 'index.json'), JSON.stringify({schemaVersion: 2, manifests: [foreign], annotations: {a: 'b'}}))
    const one = Buffer.from('{"schemaVersion":2,"n":1}')
    const two = Buffer.from('{"schemaVersion":2,"n":2}')
    const before = statSync(join(t.dir, 'index.json')).ino
    expect(await t.putManifest('a', one, MEDIA.manifest)).to.equal(digestOf(one))
    expect(statSync(join(t.dir, 'index.json')).ino).to.not.equal(before)
    await t.putManifest('b', one, MEDIA.manifest)
    await t.putManifest('a', two, MEDIA.index)
    const now = index(t)
    expect(now.annotations).to.deep.equal({a: 'b'})
    expect(now.manifests).to.deep.equal([
      foreign,
      {mediaType: MEDIA.manifest, digest: digestOf(one), size: one.length, annotations: {[REF_NAME]: 'b'}},
      {mediaType: MEDIA.index, digest: digestOf(two), size: two.length, annotations: {[REF_NAME]: 'a'}},
    ])
    expect(await t.resolveManifest('a')).to.equal(digestOf(two))
    expect(await t.resolveManifest('b')).to.equal(digestOf(one))
    expect(await t.resolveManifest('c')).to.equal(undefined)
    // By digest: a blob, no tag.
    const three = Buffer.from('{"n":3}')
    await t.putManifest(digestOf(three), three, MEDIA.manifest)
    expect(readFileSync(t.blobPath(digestOf(three))).equals(three)).to.equal(true)
    expect(tagsOf(t)).to.deep.equal([undefined, 'b', 'a'])
    expect(readdirSync(t.dir).sort()).to.deep.equal([UPLOADS_DIR, 'blobs', 'index.json', 'oci-layout'].sort())
  })

  it('index.json: tags written at once all land (one writer at a time); a lock left by a dead process is taken over', async () => {
    const t = await layout()
    const tags = Array.from({length: 12}, (_, i) => `t${i}`)
    await Promise.all([
      ...tags.map((tag) => t.putManifest(tag, Buffer.from(`{"tag":"${tag}"}`), MEDIA.manifest)),
      new LayoutTarget(t.dir).putManifest('other', Buffer.from('{}'), MEDIA.manifest),
    ])
    expect(new Set(tagsOf(t))).to.deep.equal(new Set([...tags, 'other']))

    const lock = join(t.dir, UPLOADS_DIR, 'index.lock')
    writeFileSync(lock, '')
    const old = new Date(Date.now() - 120_000)
    utimesSync(lock, old, old)
    await t.putManifest('late', Buffer.from('{}'), MEDIA.manifest)
    expect(tagsOf(t)).to.include('late')
  })

  it('parses --to oci:DIR to an absolute path, and refuses other forms in one line', () => {
    expect(parseLayoutTarget('oci:/tmp/x')).to.equal('/tmp/x')
    expect(parseLayoutTarget('oci:rel/dir')).to.equal(join(process.cwd(), 'rel/dir'))
    expect(() => parseLayoutTarget('/tmp/x')).to.throw(/is not oci:DIR/)
    expect(() => parseLayoutTarget('oci:/tmp/x:tag')).to.throw(/may not contain ':'/)
    expect(() => parseLayoutTarget('docker://r/x')).to.throw(/is not oci:DIR/)
  })

  it('parses oci:DIR:tag and oci:DIR@digest for verify and ls; anything else is not a layout reference', () => {
    expect(parseLayoutReference('oci:/tmp/x:v1')).to.deep.include({layout: '/tmp/x', tag: 'v1', repository: ''})
    expect(parseLayoutReference(`oci:/tmp/x@${DIGEST}`)).to.deep.include({layout: '/tmp/x', digest: DIGEST})
    expect(parseLayoutReference('registry.example.com/m:v1')).to.equal(undefined)
    expect(() => parseLayoutReference('oci:/tmp/x')).to.throw(/names no tag or digest/)
    expect(() => parseLayoutReference('oci:/tmp/x:bad tag')).to.throw(/Invalid tag/)
    expect(() => parseLayoutReference('oci:/tmp/x@sha256:12')).to.throw(/Invalid digest/)
  })

  it('LayoutReader reads manifests by tag or digest and streams blobs; absent ones are absent', async () => {
    const t = await layout()
    const body = Buffer.from(JSON.stringify({schemaVersion: 2, mediaType: MEDIA.manifest}))
    await t.putManifest('v1', body, MEDIA.manifest)
    await t.pushBlob(BYTES, DIGEST)
    const reader = new LayoutReader(t.dir)
    expect(await reader.manifest('v1')).to.deep.equal({body, contentType: MEDIA.manifest})
    expect((await reader.manifest(digestOf(body)))?.body.equals(body)).to.equal(true)
    expect(await reader.manifest('v2')).to.equal(undefined)
    expect(await reader.head(DIGEST)).to.deep.equal({status: 200, size: BYTES.length, digest: DIGEST})
    const chunks: Buffer[] = []
    for await (const chunk of reader.stream(DIGEST)) chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(BYTES)).to.equal(true)
    const absent = digestOf(Buffer.from('absent'))
    expect(await reader.head(absent)).to.deep.equal({status: 404})
    expect(await rejection(reader.stream(absent).next())).to.be.instanceOf(BlobNotFoundError)
    expect((await rejection(new LayoutReader(mkdtempSync(join(tmpdir(), 'mc-empty-'))).manifest('v1'))).message).to.match(
      /is not an OCI image layout/,
    )
  })
})
