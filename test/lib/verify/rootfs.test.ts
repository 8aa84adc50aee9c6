import {expect} from 'chai'
import type {TarEntry} from '../../../src/lib/layer/tar-reader.js'
import {MergedFs} from '../../../src/lib/verify/rootfs.js'

const entry = (path: string, type: TarEntry['type'] = 'file', mode = 0o644, linkpath = ''): TarEntry => ({
  path,
  type,
  typeflag: '',
  mode,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 0,
  linkpath,
  offset: 0,
  sparse: false,
})

describe('verify/rootfs: the filesystem a runtime assembles from layers', () => {
  it('follows absolute and relative symlinks in every component, as busybox images and merged /usr need', () => {
    const fs = new MergedFs()
    fs.apply([
      entry('./usr/', 'directory', 0o755),
      entry('./usr/bin/busybox', 'file', 0o755),
      entry('./usr/bin/sh', 'symlink', 0o777, 'busybox'),
      entry('bin', 'symlink', 0o777, 'usr/bin'),
      entry('sbin', 'symlink', 0o777, '/usr/bin'),
      entry('loop', 'symlink', 0o777, 'loop'),
    ])
    expect(fs.resolve('/bin/sh')?.path).to.equal('usr/bin/busybox')
    expect(fs.resolve('/sbin/../bin/sh')?.node?.mode).to.equal(0o755)
    expect(fs.resolve('/loop/x')).to.equal(undefined)
    expect(fs.resolve('/bin/missing')).to.equal(undefined)
    expect(fs.resolve('/usr/bin/busybox/sh')).to.equal(undefined)
  })

  it('honours whiteouts, opaque directories and hard links of upper layers', () => {
    const fs = new MergedFs()
    fs.apply([entry('bin/sh', 'file', 0o755), entry('bin/ls', 'file', 0o755), entry('etc/a'), entry('etc/b')])
    fs.apply([entry('bin/.wh.sh'), entry('etc/.wh..wh..opq'), entry('etc/c'), entry('bin/ln', 'hardlink', 0, 'bin/ls')])
    expect([...fs.nodes.keys()].sort()).to.deep.equal(['bin/ln', 'bin/ls', 'etc/c'])
    expect(fs.nodes.get('bin/ln')).to.deep.equal({type: 'file', mode: 0o755, linkpath: ''})
    expect(fs.isDirectory('bin')).to.equal(true)
    expect(fs.isDirectory('bin/ls')).to.equal(false)
  })

  it('a file that replaces a directory hides what the directory held', () => {
    const fs = new MergedFs()
    fs.apply([entry('models/', 'directory', 0o755), entry('models/a')])
    fs.apply([entry('models', 'file')])
    expect([...fs.nodes.keys()]).to.deep.equal(['models'])
  })
})
