import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {MODELS_DIR, layerHeader, layerSize, layerTrailer} from '../../../src/lib/layer/index.js'
import {paxRecord} from '../../../src/lib/layer/tar.js'
import {content} from './sample-bytes.js'
import {commandWorks, requireTools} from '../../fixtures/require-tool.js'

const GiB = 1024 ** 3
// Fixed locale and zone so listings are stable and non-ASCII names print as-is.
const ENV = {...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC'}

function layer(repoPath: string, data: Buffer): Buffer {
  return Buffer.concat([layerHeader(repoPath, data.length), data, layerTrailer(data.length)])
}

function run(cmd: string, args: string[], cwd?: string): {stdout: string; stderr: string} {
  const r = spawnSync(cmd, args, {cwd, env: ENV, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return {stdout: r.stdout, stderr: r.stderr}
}

type Block = {name: string; type: string; mode: number; size: number; sizeField: Buffer; raw: Buffer}

/** A minimal ustar reader for checking header fields GNU tar's listing does not show. */
function blocks(tar: Buffer): Block[] {
  const out: Block[] = []
  for (let off = 0; off + 512 <= tar.length;) {
    const raw = tar.subarray(off, off + 512)
    if (raw.every((b) => b === 0)) break
    const sizeField = raw.subarray(124, 136)
    const size =
      sizeField[0] === 0x80
        ? Number(Buffer.concat([Buffer.alloc(5), sizeField.subarray(1)]).readBigUInt64BE(8))
        : parseInt(sizeField.toString('ascii', 0, 11), 8)
    const nul = raw.indexOf(0)
    out.push({
      name: raw.toString('latin1', 0, nul >= 0 && nul < 100 ? nul : 100),
      type: String.fromCharCode(raw[156]),
      mode: parseInt(raw.toString('ascii', 100, 107), 8),
      size,
      sizeField: Buffer.from(sizeField),
      raw: Buffer.from(raw),
    })
    off += 512 + Math.ceil(size / 512) * 512
  }
  return out
}

function checksumOk(raw: Buffer): boolean {
  const copy = Buffer.from(raw)
  copy.fill(0x20, 148, 156)
  const sum = copy.reduce((a, b) => a + b, 0)
  return raw.toString('latin1', 148, 156) === sum.toString(8).padStart(6, '0') + '\0 '
}

/** Rewrites a header's (small) size field in GNU base-256 form, as used from 8 GiB up. */
function base256Size(header: Buffer, at: number, size: number): void {
  header.fill(0, at + 124, at + 136)
  header[at + 124] = 0x80
  header.writeBigUInt64BE(BigInt(size), at + 128)
  header.fill(0x20, at + 148, at + 156)
  let sum = 0
  for (let i = at; i < at + 512; i++) sum += header[i]
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1')
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex')
}

/** Writes blobs + index for a one-manifest OCI image layout tagged `tag`. */
function ociLayout(dir: string, layers: Buffer[], tag: string): void {
  const blobs = path.join(dir, 'blobs', 'sha256')
  fs.mkdirSync(blobs, {recursive: true})
  const put = (b: Buffer): {digest: string; size: number} => {
    const digest = sha256(b)
    fs.writeFileSync(path.join(blobs, digest.slice(7)), b)
    return {digest, size: b.length}
  }
  const layerDescs = layers.map((l) => ({mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(l)}))
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      // Uncompressed layers: each diff_id is the layer digest itself.
      rootfs: {type: 'layers', diff_ids: layerDescs.map((d) => d.digest)},
    }),
  )
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config)},
      layers: layerDescs,
    }),
  )
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...put(manifest),
        annotations: {'org.opencontainers.image.ref.name': tag},
      },
    ],
  }
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}))
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index))
}

/** Parent directories of models/<p> as tar names, outermost first. */
function dirsOf(p: string): string[] {
  const segs = p.split('/').slice(0, -1)
  return [MODELS_DIR, ...segs].map((_, i, all) => all.slice(0, i + 1).join('/') + '/')
}

describe('tar layer framing', function () {
  this.timeout(15_000)
  let tmp: string

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'modelcar-tar-'))
  })
  after(() => {
    fs.rmSync(tmp, {recursive: true, force: true})
  })

  const long = 'x'.repeat(150) + '.safetensors'
  const longDir = 'd'.repeat(120)
  const cases: Array<[string, number]> = [
    ['a/b/model.safetensors', 3000],
    [`nested/${long}`, 700],
    [`${longDir}/sub/weights.bin`, 100],
    ['模型/café.bin', 1234],
    ['empty.txt', 0],
    ['s/511.bin', 511],
    ['s/512.bin', 512],
    ['s/513.bin', 513],
  ]

  describe('GNU tar', () => {
    for (const [repoPath, size] of cases) {
      it(`lists and extracts ${repoPath.length > 40 ? repoPath.slice(0, 40) + '…' : repoPath} (${size} B)`, () => {
        const data = content(size, size + 1)
        const bytes = layer(repoPath, data)
        expect(bytes.length).to.equal(layerSize(repoPath, size))
        expect(bytes.length % 512).to.equal(0)
        const file = path.join(tmp, `case-${size}.tar`)
        fs.writeFileSync(file, bytes)

        const {stdout, stderr} = run('tar', ['-tvf', file, '--numeric-owner'])
        expect(stderr).to.equal('')
        const names = [...dirsOf(repoPath), `${MODELS_DIR}/${repoPath}`]
        const expected = names.map((n, i) => {
          const isFile = i === names.length - 1
          const perms = isFile ? '-rw-r--r--' : 'drwxr-xr-x'
          return `${perms} 0/0 ${isFile ? size : 0} 1970-01-01 00:00 ${n}`
        })
        expect(
          stdout
            .trimEnd()
            .split('\n')
            .map((l) => l.replace(/ +/g, ' ')),
        ).to.deep.equal(expected)

        const out = path.join(tmp, `x-${size}`)
        fs.mkdirSync(out)
        expect(run('tar', ['-xf', file, '-C', out]).stderr).to.equal('')
        expect(fs.readFileSync(path.join(out, MODELS_DIR, repoPath)).equals(data)).to.equal(true)
      })
    }

    it('gives PAX-named entries a deterministic ASCII stand-in and PAX header name', () => {
      for (const repoPath of [`nested/${long}`, `${longDir}/sub/weights.bin`, '模型/café.bin']) {
        const bs = blocks(layerHeader(repoPath, 5))
        for (const b of bs) {
          expect(checksumOk(b.raw), b.name).to.equal(true)
          expect(b.raw.toString('latin1', 257, 265)).to.equal('ustar\x0000')
          expect(b.raw.toString('latin1', 108, 124)).to.equal('0000000\x000000000\x00') // uid, gid
          expect(b.raw.toString('latin1', 136, 148)).to.equal('00000000000\x00') // mtime
          expect(b.raw.subarray(265, 329).every((x) => x === 0)).to.equal(true) // uname, gname
          expect(b.name).to.match(/^[\x20-\x7e]{1,100}$/)
        }
        const pax = bs.filter((b) => b.type === 'x')
        expect(pax.length).to.be.greaterThan(0)
        for (const p of pax) {
          expect(p.name).to.match(/^PaxHeaders\.0\/[^/]+$/)
          expect(p.mode).to.equal(0o644)
        }
        // Every PAX header is followed by the entry it describes; dirs keep their '/'.
        bs.forEach((b, i) => {
          if (b.type === 'x') expect(bs[i + 1].type).to.not.equal('x')
          if (b.type === '5') expect(b.name.endsWith('/')).to.equal(true)
          if (b.type === '0') expect(b.name.endsWith('/')).to.equal(false)
        })
      }
    })

    it('matches GNU tar --format=ustar byte for byte on a plain path', () => {
      const src = path.join(tmp, 'gnu-src')
      fs.mkdirSync(path.join(src, 'models/a/b'), {recursive: true})
      const data = content(777, 7)
      fs.writeFileSync(path.join(src, 'models/a/b/w.bin'), data)
      for (const d of ['models', 'models/a', 'models/a/b']) fs.chmodSync(path.join(src, d), 0o755)
      fs.chmodSync(path.join(src, 'models/a/b/w.bin'), 0o644)
      const gnu = execFileSync(
        'tar',
        ['--format=ustar', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', '-', 'models/'],
        {cwd: src, env: ENV},
      )
      const ours = layer('a/b/w.bin', data)
      // GNU tar pads its archive to 10240 bytes; ours stops after the two zero blocks.
      expect(gnu.subarray(0, ours.length).equals(ours)).to.equal(true)
      expect(gnu.subarray(ours.length).every((b) => b === 0)).to.equal(true)
    })
  })

  describe('umoci', () => {
    before(function () {
      requireTools(this, commandWorks('umoci'))
    })
    it('unpacks an image made of two layers', () => {
      const a = 'a/b/model.safetensors'
      const b = `模型/${'长'.repeat(40)}/café.bin` // non-ASCII and over 100 bytes
      const da = content(4097, 3)
      const db = content(511, 4)
      const image = path.join(tmp, 'oci')
      ociLayout(image, [layer(a, da), layer(b, db)], 'v1')
      const bundle = path.join(tmp, 'bundle')
      run('umoci', ['unpack', '--rootless', '--image', `${image}:v1`, bundle])
      const rootfs = path.join(bundle, 'rootfs')
      expect(fs.readFileSync(path.join(rootfs, MODELS_DIR, a)).equals(da)).to.equal(true)
      expect(fs.readFileSync(path.join(rootfs, MODELS_DIR, b)).equals(db)).to.equal(true)
      expect(fs.statSync(path.join(rootfs, MODELS_DIR, a)).mode & 0o777).to.equal(0o644)
      expect(fs.statSync(path.join(rootfs, MODELS_DIR, 'a/b')).mode & 0o777).to.equal(0o755)
    })

    it('reads a GNU base-256 size field (Go archive/tar)', () => {
      // Same encoding as a >= 8 GiB file, on a small one so the blob stays tiny.
      const repoPath = 'big/encoded.bin'
      const data = content(1000, 5)
      const bytes = layer(repoPath, data)
      base256Size(bytes, layerHeader(repoPath, 1000).length - 512, 1000)
      const file = writeTmp('b256.tar', bytes)
      const listing = run('tar', ['-tvf', file, '--numeric-owner'])
      expect(listing.stderr).to.equal('')
      expect(listing.stdout).to.match(/ 1000 1970-01-01 00:00 models\/big\/encoded\.bin\n$/)
      const out = path.join(tmp, 'x-b256')
      fs.mkdirSync(out)
      run('tar', ['-xf', file, '-C', out])
      expect(fs.readFileSync(path.join(out, MODELS_DIR, repoPath)).equals(data)).to.equal(true)
      const image = path.join(tmp, 'oci-b256')
      ociLayout(image, [bytes], 'latest')
      const bundle = path.join(tmp, 'bundle-b256')
      run('umoci', ['unpack', '--rootless', '--image', image, bundle])
      expect(fs.readFileSync(path.join(bundle, 'rootfs', MODELS_DIR, repoPath)).equals(data)).to.equal(true)
    })
  })

  function writeTmp(name: string, bytes: Buffer): string {
    const file = path.join(tmp, name)
    fs.writeFileSync(file, bytes)
    return file
  }

  describe('sizes of 8 GiB and more', () => {
    it('keeps octal up to 8 GiB - 1 and switches to base-256 at 8 GiB', () => {
      const last = (size: number): Buffer => blocks(layerHeader('w.bin', size)).at(-1)!.sizeField
      expect(last(8 * GiB - 1).toString('latin1')).to.equal('77777777777\0')
      expect([...last(8 * GiB)]).to.deep.equal([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0])
      expect([...last(2 ** 53 - 1)]).to.deep.equal([0x80, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    })

    it('GNU tar reads an 8 GiB + 3 byte entry (sparse file, no real data)', () => {
      const size = 8 * GiB + 3
      const repoPath = 'big/weights.bin'
      const header = layerHeader(repoPath, size)
      const entry = blocks(header).at(-1)!
      expect([...entry.sizeField]).to.deep.equal([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3])
      expect(checksumOk(entry.raw)).to.equal(true)
      expect(entry.size).to.equal(size)
      const trailer = layerTrailer(size)
      expect(trailer.length).to.equal(509 + 1024)
      expect(layerSize(repoPath, size)).to.equal(header.length + size + trailer.length)

      const file = path.join(tmp, 'big.tar')
      fs.writeFileSync(file, header)
      fs.truncateSync(file, header.length + size) // a hole: no 8 GiB written
      fs.appendFileSync(file, trailer)
      try {
        // Exit 0 with no warning also means GNU tar found the end blocks exactly where the size says.
        const {stdout, stderr} = run('tar', ['-tvf', file, '--numeric-owner'])
        expect(stderr).to.equal('')
        expect(
          stdout
            .trimEnd()
            .split('\n')
            .map((l) => l.replace(/ +/g, ' ')),
        ).to.deep.equal([
          'drwxr-xr-x 0/0 0 1970-01-01 00:00 models/',
          'drwxr-xr-x 0/0 0 1970-01-01 00:00 models/big/',
          `-rw-r--r-- 0/0 ${size} 1970-01-01 00:00 models/big/weights.bin`,
        ])
      } finally {
        fs.rmSync(file)
      }
    })
  })

  describe('lengths, determinism, PAX records', () => {
    it('layerSize equals the concatenated length for random paths and sizes', () => {
      let seed = 42
      const rand = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
        return seed % n
      }
      const pieces = ['a', 'model', 'é', '模型', 'x'.repeat(60), 'ü'.repeat(30), '🤗', 'config.json']
      for (let i = 0; i < 500; i++) {
        const segs = Array.from({length: 1 + rand(4)}, () => pieces[rand(pieces.length)] + rand(10))
        const repoPath = segs.join('/')
        const size = [0, 1, 511, 512, 513, 8 * GiB - 1, 8 * GiB, 2 ** 53 - 1][rand(8)] + (rand(2) ? 0 : rand(5000))
        const safe = Math.min(size, 2 ** 53 - 1)
        const header = layerHeader(repoPath, safe)
        const trailer = layerTrailer(safe)
        expect(layerSize(repoPath, safe)).to.equal(header.length + safe + trailer.length)
        expect((header.length + safe + trailer.length) % 512).to.equal(0)
        expect(trailer.length).to.be.within(1024, 1024 + 511)
        // Same input, same bytes.
        expect(layerHeader(repoPath, safe).equals(header)).to.equal(true)
        for (const b of blocks(header)) expect(checksumOk(b.raw)).to.equal(true)
      }
    })

    it('writes self-counting PAX length prefixes', () => {
      for (let n = 0; n < 1200; n++) {
        const rec = paxRecord('path', Buffer.alloc(n, 0x61)).toString('latin1')
        expect(Number(rec.slice(0, rec.indexOf(' ')))).to.equal(rec.length)
      }
      // Where one more value byte adds a digit, the total jumps by two: 9 -> 11, 99 -> 101.
      expect(paxRecord('path', Buffer.from('a')).toString()).to.equal('9 path=a\n')
      expect(paxRecord('path', Buffer.from('ab')).toString()).to.equal('11 path=ab\n')
      expect(paxRecord('path', Buffer.alloc(90, 0x61)).length).to.equal(99)
      expect(paxRecord('path', Buffer.alloc(91, 0x61)).length).to.equal(101)
      expect(paxRecord('path', Buffer.from('é')).toString()).to.equal('11 path=é\n') // counts bytes: é is 2
    })

    it('GNU tar accepts PAX records of 99 / 101 and 999 / 1001 bytes', () => {
      // "NN path=models/<repoPath>\n": 90 value bytes make 99, 91 make 101.
      const totals: Record<number, number> = {90: 99, 91: 101, 989: 999, 990: 1001}
      for (const valueLength of [90, 91, 989, 990]) {
        const repoPath = 'é/' + 'z'.repeat(valueLength - MODELS_DIR.length - 1 - 3)
        expect(Buffer.byteLength(`${MODELS_DIR}/${repoPath}`)).to.equal(valueLength)
        const bytes = layer(repoPath, content(10))
        const paxBlocks = blocks(bytes).filter((b) => b.type === 'x')
        const recordLength = paxBlocks.at(-1)!.size
        expect(recordLength).to.equal(totals[valueLength])
        const {stdout, stderr} = run('tar', ['-tf', writeTmp(`pax-${valueLength}.tar`, bytes)])
        expect(stderr).to.equal('')
        expect(stdout.trimEnd().split('\n').at(-1)).to.equal(`${MODELS_DIR}/${repoPath}`)
      }
    })
  })

  describe('rejects bad input', () => {
    for (const size of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      it(`size ${size}`, () => {
        expect(() => layerHeader('a.bin', size)).to.throw(Error, /size/)
        expect(() => layerTrailer(size)).to.throw(Error, /size/)
        expect(() => layerSize('a.bin', size)).to.throw(Error, /size/)
      })
    }

    for (const p of ['', '/etc/passwd', 'a/../b', '..', 'a/..', 'a\0b', 'a//b', 'a/', './a', 'a\uD800b']) {
      it(`path ${JSON.stringify(p)}`, () => {
        expect(() => layerHeader(p, 1)).to.throw(Error, /path/)
        expect(() => layerSize(p, 1)).to.throw(Error, /path/)
      })
    }
  })
})
