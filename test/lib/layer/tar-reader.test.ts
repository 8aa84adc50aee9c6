import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {layerHeader, layerTrailer} from '../../../src/lib/layer/index.js'
import {paxRecord} from '../../../src/lib/layer/tar.js'
import {content} from './sample-bytes.js'
import {parsePax, TarFormatError, TarReader, type TarEntry, type TarSummary} from '../../../src/lib/layer/tar-reader.js'

const GiB = 1024 ** 3
const ENV = {...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC'}

interface Read {
  entries: Array<TarEntry & {content: Buffer}>
  summary: TarSummary
}

/** Feed `tar` in chunks of `chunk` bytes (1 = byte by byte); collect entries and contents. */
function read(tar: Buffer, chunk = 4096): Read {
  const entries: Read['entries'] = []
  const reader = new TarReader((e) => {
    const parts: Buffer[] = []
    return {data: (c) => parts.push(Buffer.from(c)), end: () => entries.push({...e, content: Buffer.concat(parts)})}
  })
  for (let i = 0; i < tar.length; i += chunk) reader.write(tar.subarray(i, i + chunk))
  return {entries, summary: reader.end()}
}

function gnuTar(args: string[], cwd: string): Buffer {
  const r = spawnSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-cf', '-', ...args], {
    cwd,
    env: ENV,
    maxBuffer: 64 << 20,
  })
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${String(r.stderr)}`)
  return r.stdout
}

/** A minimal ustar header block, for archives GNU tar will not write. */
function ustarHeader(name: string, type: string, size: number, opts: {mode?: number; linkname?: string} = {}): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  const octal = (off: number, len: number, v: number) => h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, 'ascii')
  octal(100, 8, opts.mode ?? 0o644)
  octal(108, 8, 0)
  octal(116, 8, 0)
  octal(124, 12, size)
  octal(136, 12, 0)
  h.write(type, 156, 'ascii')
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'utf8')
  h.write('ustar\0', 257, 'ascii')
  h.write('00', 263, 'ascii')
  h.fill(0x20, 148, 156)
  h.write(
    h
      .reduce((a, b) => a + b, 0)
      .toString(8)
      .padStart(6, '0') + '\0 ',
    148,
    'ascii',
  )
  return h
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)])
}

describe('layer/tar-reader', () => {
  let dir: string
  const long = `${'a-rather-long-folder-name/'.repeat(5)}and-a-file-name-that-is-long-too.safetensors`
  const files: Record<string, Buffer> = {
    'models/config.json': Buffer.from('{"a":1}\n'),
    [`models/${long}`]: content(70_001, 2),
    'models/模型/café.bin': content(1234, 3),
    'models/empty.txt': Buffer.alloc(0),
    'models/exactly-512.bin': content(512, 4),
    // 130 bytes: ustar must split it into prefix + name.
    [`models/${'b'.repeat(60)}/${'c'.repeat(59)}.bin`]: content(100, 5),
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-tar-reader-'))
    for (const [p, data] of Object.entries(files)) {
      fs.mkdirSync(path.join(dir, path.dirname(p)), {recursive: true})
      fs.writeFileSync(path.join(dir, p), data)
      fs.chmodSync(path.join(dir, p), 0o644)
    }
    fs.symlinkSync('config.json', path.join(dir, 'models/link'))
    fs.linkSync(path.join(dir, 'models/config.json'), path.join(dir, 'models/hard'))
  })
  after(() => fs.rmSync(dir, {recursive: true, force: true}))

  for (const format of ['gnu', 'posix', 'ustar', 'v7'] as const) {
    it(`reads GNU tar's ${format} format: names, types, modes, links and every byte of content`, function () {
      const args = [`--format=${format}`, '--mode=u=rwX,go=rX']
      // ustar names stop at 255 bytes split at a '/', v7 at 100: leave the long one out.
      if (format === 'ustar' || format === 'v7') args.push(`--exclude=models/${long.split('/')[0]}`)
      if (format === 'v7') args.push(`--exclude=models/${'b'.repeat(60)}`)
      args.push('models')
      const tar = gnuTar(args, dir)
      for (const chunk of [1 << 20, 4096, 511, 1]) {
        const {entries, summary} = read(tar, chunk)
        expect(summary.endMarker).to.equal(true)
        const byPath = new Map(entries.map((e) => [e.path.replace(/\/$/, ''), e]))
        for (const [p, data] of Object.entries(files)) {
          if ((format === 'ustar' || format === 'v7') && p.includes(long)) continue
          if (format === 'v7' && p.length > 99) continue
          if (format === 'v7' && /[^\x00-\x7f]/.test(p)) continue
          const e = byPath.get(p)
          expect(e, `${format}: ${p} (chunk ${chunk})`).to.not.equal(undefined)
          expect(e!.type).to.equal('file')
          expect(e!.mode & 0o7777).to.equal(0o644)
          expect(e!.size).to.equal(data.length)
          expect(e!.content.equals(data), p).to.equal(true)
        }
        if (format === 'ustar') expect(tar.includes(Buffer.from(`models/${'b'.repeat(60)}\0`)), 'prefix field used').to.equal(true)
        expect(byPath.get('models')!.type).to.equal('directory')
        expect(byPath.get('models')!.mode & 0o7777).to.equal(0o755)
        expect(byPath.get('models/link')).to.include({type: 'symlink', linkpath: 'config.json', size: 0})
        // One of the two names is a hardlink to the other, which holds the bytes.
        const links = entries.filter((e) => e.type === 'hardlink')
        expect(links, 'one hardlink entry').to.have.length(1)
        const names = ['models/hard', 'models/config.json']
        expect(names).to.include(links[0].path)
        const target = names.find((n) => n !== links[0].path)!
        expect(links[0].linkpath).to.equal(target)
        expect(byPath.get(target)).to.include({type: 'file', size: files['models/config.json'].length})
      }
    })
  }

  it('reads GNU long names (L) and PAX paths for names over 100 bytes', () => {
    const gnu = gnuTar(['--format=gnu', 'models'], dir)
    expect(gnu.includes(Buffer.from('././@LongLink'))).to.equal(true)
    expect(read(gnu).entries.map((e) => e.path)).to.include(`models/${long}`)
    const pax = gnuTar(['--format=posix', 'models'], dir)
    expect(read(pax).entries.map((e) => e.path))
      .to.include(`models/${long}`)
      .and.to.include('models/模型/café.bin')
  })

  it('reads GNU base-256 numbers (a uid too large for octal)', () => {
    const tar = gnuTar(['--format=gnu', '--owner=x:4000000000', 'models/config.json'], dir)
    expect(tar[108] & 0x80).to.equal(0x80)
    const [e] = read(tar).entries
    expect(e.uid).to.equal(4_000_000_000)
    expect(e.content.toString()).to.equal('{"a":1}\n')
  })

  it('reads what layer/tar.ts writes: short, long, non-ASCII names, and an 8 GiB file with a base-256 size', () => {
    for (const [repoPath, data] of [
      ['config.json', files['models/config.json']],
      [long, content(5000, 5)],
      ['模型/café.bin', content(3, 6)],
      ['e', Buffer.alloc(0)],
    ] as const) {
      const tar = Buffer.concat([layerHeader(repoPath, data.length), data, layerTrailer(data.length)])
      const {entries, summary} = read(tar, 333)
      expect(summary).to.deep.equal({entries: entries.length, endMarker: true, trailingBytes: 0})
      const file = entries.at(-1)!
      expect(file).to.include({path: `models/${repoPath}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0})
      expect(file.content.equals(data)).to.equal(true)
      expect(entries.slice(0, -1).every((e) => e.type === 'directory' && e.mode === 0o755 && e.path.startsWith('models/'))).to.equal(true)
    }

    // 8 GiB + 5: the size field is GNU base-256. Stream zeros through a counting sink.
    const size = 8 * GiB + 5
    const header = layerHeader('big.bin', size)
    let seen: TarEntry | undefined
    let counted = 0
    let ended = false
    const reader = new TarReader((e) => {
      if (e.type !== 'file') return
      seen = e
      return {data: (c) => (counted += c.length), end: () => (ended = true)}
    })
    reader.write(header)
    const zeros = Buffer.alloc(16 << 20)
    for (let left = size; left > 0; left -= zeros.length) reader.write(left >= zeros.length ? zeros : zeros.subarray(0, left))
    reader.write(layerTrailer(size))
    expect(reader.end().endMarker).to.equal(true)
    expect(seen).to.include({path: 'models/big.bin', size})
    expect(counted).to.equal(size)
    expect(ended).to.equal(true)
  })

  it('applies PAX global records to every later entry, and x records to the next one only', () => {
    const g = paxRecord('uid', Buffer.from('77'))
    const x = paxRecord('path', Buffer.from('models/from-pax.txt'))
    const tar = Buffer.concat([
      ustarHeader('pax_global_header', 'g', g.length),
      pad(g),
      ustarHeader('PaxHeaders/a', 'x', x.length),
      pad(x),
      ustarHeader('models/ignored-name', '0', 2),
      pad(Buffer.from('hi')),
      ustarHeader('models/second', '0', 0),
      Buffer.alloc(1024),
    ])
    const {entries} = read(tar)
    expect(entries.map((e) => [e.path, e.uid, e.content.toString()])).to.deep.equal([
      ['models/from-pax.txt', 77, 'hi'],
      ['models/second', 77, ''],
    ])
  })

  it('parses PAX records whose length counts its own digits', () => {
    const value = Buffer.from('x'.repeat(95))
    expect(parsePax(Buffer.concat([paxRecord('path', value), paxRecord('size', Buffer.from('12'))]))).to.deep.equal(
      new Map([
        ['path', value.toString()],
        ['size', '12'],
      ]),
    )
    expect(() => parsePax(Buffer.from('99 path=short\n'))).to.throw(TarFormatError)
  })

  it('gives header-only types no content and treats a V7 name ending in "/" as a directory', () => {
    const tar = Buffer.concat([
      ustarHeader('models/dir/', '\0', 0, {mode: 0o755}),
      ustarHeader('models/l', '2', 0, {linkname: '/etc/passwd'}),
      Buffer.alloc(1024),
    ])
    const {entries} = read(tar)
    expect(entries.map((e) => [e.path, e.type, e.linkpath])).to.deep.equal([
      ['models/dir/', 'directory', ''],
      ['models/l', 'symlink', '/etc/passwd'],
    ])
  })

  it('refuses bad checksums and truncated archives, and notices a missing end marker', () => {
    const good = Buffer.concat([layerHeader('a.txt', 3), Buffer.from('abc'), layerTrailer(3)])
    const corrupt = Buffer.from(good)
    corrupt[520] ^= 0xff // inside the file entry's header name (blocks: models/, models/a.txt)
    expect(() => read(corrupt)).to.throw(TarFormatError, /checksum/)
    expect(() => read(good.subarray(0, 1024 + 2))).to.throw(TarFormatError, /truncated/)
    expect(() => read(good.subarray(0, 1024 + 100))).to.throw(TarFormatError, /truncated/)
    expect(() => read(good.subarray(0, 1000))).to.throw(TarFormatError, /truncated/)
    const noEnd = read(good.subarray(0, 1024 + 512))
    expect(noEnd.summary.endMarker).to.equal(false)
    expect(noEnd.entries.at(-1)!.content.toString()).to.equal('abc')
    expect(() => read(Buffer.from('not a tar at all'.repeat(64)))).to.throw(TarFormatError)
  })

  it('hashes file content the same way sha256sum does (a GNU tar archive of random data)', () => {
    const tar = gnuTar(['--format=gnu', 'models'], dir)
    const read7919 = read(tar, 7919).entries.filter((x) => x.type === 'file')
    expect(read7919.length).to.be.greaterThan(2)
    for (const e of read7919) {
      // The real coreutils binary over the file on disk, against node:crypto over what the reader gave back.
      const sum = spawnSync('sha256sum', ['--', e.path], {cwd: dir, encoding: 'utf8'})
      expect(sum.status, sum.stderr).to.equal(0)
      expect(createHash('sha256').update(e.content).digest('hex'), e.path).to.equal(sum.stdout.split(' ')[0])
    }
  })
})
