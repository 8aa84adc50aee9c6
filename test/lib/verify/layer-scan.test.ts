import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {gzipSync} from 'node:zlib'
import {layerHeader, layerTrailer} from '../../../src/lib/layer/tar.js'
import {layerCompression, scanBlob} from '../../../src/lib/verify/layer-scan.js'

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
async function* chunks(b: Buffer, size = 1000) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}
const layer = (path: string, data: Buffer) => Buffer.concat([layerHeader(path, data.length), data, layerTrailer(data.length)])

describe('verify/layer-scan', () => {
  it('knows which media types are tar layers and how they are compressed', () => {
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar')).to.equal('none')
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+gzip')).to.equal('gzip')
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+zstd')).to.equal('zstd')
    expect(layerCompression('application/vnd.docker.image.rootfs.diff.tar.gzip')).to.equal('gzip')
    expect(layerCompression('application/vnd.docker.image.rootfs.diff.tar')).to.equal('none')
    expect(layerCompression('application/vnd.oci.image.config.v1+json')).to.equal(undefined)
    expect(layerCompression('application/octet-stream')).to.equal(undefined)
  })

  it('hashes a modelcar layer, its file, and finds no hygiene problem', async () => {
    const data = Buffer.from('hello world\n')
    const tar = layer('a/b.txt', data)
    const scan = await scanBlob(chunks(tar, 100), 'none')
    expect(scan).to.deep.include({digest: `sha256:${sha(tar)}`, diffId: `sha256:${sha(tar)}`, size: tar.length, hygiene: [], entries: 3})
    expect(scan.files).to.deep.equal([
      {path: 'models/a/b.txt', size: 12, sha256: sha(data), gitOid: createHash('sha1').update('blob 12\0').update(data).digest('hex')},
    ])
  })

  it('decompresses gzip layers: digest over the gzip bytes, diff_id over the tar', async () => {
    const tar = layer('w.bin', Buffer.alloc(100_000, 7))
    const gz = gzipSync(tar)
    const scan = await scanBlob(chunks(gz, 4096), 'gzip')
    expect(scan.digest).to.equal(`sha256:${sha(gz)}`)
    expect(scan.diffId).to.equal(`sha256:${sha(tar)}`)
    expect(scan.files[0]).to.include({path: 'models/w.bin', size: 100_000})
  })

  it('still hashes the whole blob when the gzip or the tar is broken', async () => {
    const gz = gzipSync(layer('w.bin', Buffer.alloc(50_000, 1)))
    const broken = Buffer.from(gz)
    broken[broken.length - 20] ^= 0xff // the crc/length trailer or deflate data
    broken[30] ^= 0xff
    const scan = await scanBlob(chunks(broken), 'gzip')
    expect(scan.digest).to.equal(`sha256:${sha(broken)}`)
    expect(scan.size).to.equal(broken.length)
    expect(scan.tarError).to.match(/^(gzip|unreadable tar)/)
    expect(scan.diffId).to.equal(undefined)
    const notTar = Buffer.alloc(4096, 0x41)
    const plain = await scanBlob(chunks(notTar), 'none')
    expect(plain.tarError).to.match(/^unreadable tar: bad header checksum at byte 0/)
    expect(plain.digest).to.equal(`sha256:${sha(notTar)}`)
    expect(plain.diffId, 'no diff_id for a tar that could not be read').to.equal(undefined)
  })

  it('hashes each file and the whole layer right however the bytes are cut into chunks', async () => {
    const files = [
      {path: 'a.bin', data: Buffer.alloc(70_001, 1).fill(9, 30_000)},
      {path: 'dir/b.bin', data: Buffer.alloc(512 * 40, 2).fill(5, 777)},
      {path: 'empty', data: Buffer.alloc(0)},
      {path: 'c.txt', data: Buffer.from('x'.repeat(1333))},
    ]
    const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512)
    const tar = Buffer.concat([
      ...files.flatMap((f) => [layerHeader(f.path, f.data.length), f.data, pad(f.data.length)]),
      Buffer.alloc(1024),
    ])
    for (const size of [1, 511, 513, 4096, 65_536 + 7, tar.length]) {
      // One buffer cut in slices (the chunks share its memory) and each chunk a copy of its own.
      for (const source of [
        chunks(tar, size),
        (async function* () {
          for await (const c of chunks(tar, size)) yield Buffer.from(c)
        })(),
      ]) {
        const scan = await scanBlob(source, 'none')
        expect(scan.digest, `chunks of ${size}`).to.equal(`sha256:${sha(tar)}`)
        expect(scan.diffId).to.equal(scan.digest)
        expect(scan.files.map((f) => [f.path, f.sha256])).to.deep.equal(files.map((f) => [`models/${f.path}`, sha(f.data)]))
      }
    }
  })

  it("an uncompressed layer under a sha512 digest still gets its tar's sha256 as diff_id", async () => {
    const tar = layer('w.bin', Buffer.alloc(70_000, 3))
    const scan = await scanBlob(chunks(tar, 1000), 'none', 'sha512')
    expect(scan.digest).to.equal(`sha512:${createHash('sha512').update(tar).digest('hex')}`)
    expect(scan.diffId).to.equal(`sha256:${sha(tar)}`)
  })

  it('leaves zstd and non-tar blobs unread beyond their digest', async () => {
    const blob = Buffer.from('anything')
    expect(await scanBlob(chunks(blob), 'zstd')).to.deep.include({
      digest: `sha256:${sha(blob)}`,
      notRead: 'zstd layers are not decompressed: digest and size checked only',
      files: [],
    })
    const other = await scanBlob(chunks(blob), undefined)
    expect(other).to.deep.include({digest: `sha256:${sha(blob)}`, files: []})
    expect(other).not.to.have.property('tarError')
    expect(other).not.to.have.property('diffId')
  })

  it('reports hygiene problems and a missing end marker', async () => {
    const tar = layer('x.bin', Buffer.from('x'))
    const noEnd = tar.subarray(0, tar.length - 1024)
    const scan = await scanBlob(chunks(noEnd), 'none')
    expect(scan.hygiene).to.deep.equal(['the tar has no end-of-archive marker'])
  })
})
