import {expect} from 'chai'
import type {TarEntry} from '../../../src/lib/layer/tar-reader.js'
import {entryProblems} from '../../../src/lib/verify/hygiene.js'

function entry(path: string, over: Partial<TarEntry> = {}): TarEntry {
  const type = over.type ?? (path.endsWith('/') ? 'directory' : 'file')
  return {
    path,
    type,
    typeflag: type === 'directory' ? '5' : '0',
    mode: type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    linkpath: '',
    offset: 0,
    sparse: false,
    ...over,
  }
}

describe('verify/hygiene', () => {
  it('accepts what modelcar writes: models/, its folders 0755, files 0644, and "./" prefixes', () => {
    for (const e of [
      entry('models/'),
      entry('models/a/b/'),
      entry('models/a/b/c.bin'),
      entry('./models/x.json'),
      entry('./', {type: 'directory'}),
    ]) {
      expect(entryProblems(e), e.path).to.deep.equal([])
    }
  })

  it('refuses paths that leave models/', () => {
    expect(entryProblems(entry('/etc/passwd'))).to.deep.equal(['"/etc/passwd" is an absolute path'])
    expect(entryProblems(entry('../x'))).to.deep.equal(['"../x" climbs out with ".."'])
    expect(entryProblems(entry('models/../../x'))).to.deep.equal(['"models/../../x" climbs out with ".."'])
    expect(entryProblems(entry('bin/sh'))).to.deep.equal(['"bin/sh" is outside models/'])
    expect(entryProblems(entry('modelsX/a'))).to.deep.equal(['"modelsX/a" is outside models/'])
    expect(entryProblems(entry('models/.wh.config.json'))).to.deep.equal(['"models/.wh.config.json" is a whiteout'])
  })

  it('wants files 0644 and directories 0755', () => {
    expect(entryProblems(entry('models/a', {mode: 0o755}))).to.deep.equal(['"models/a" has mode 0755, not 0644'])
    expect(entryProblems(entry('models/a', {mode: 0o4644}))).to.deep.equal(['"models/a" has mode 04644, not 0644'])
    expect(entryProblems(entry('models/d/', {mode: 0o700}))).to.deep.equal(['"models/d/" has mode 0700, not 0755'])
  })

  it('allows links inside models/ and refuses links pointing outside', () => {
    expect(entryProblems(entry('models/a/l', {type: 'symlink', linkpath: '../b.bin', mode: 0o777}))).to.deep.equal([])
    expect(entryProblems(entry('models/l', {type: 'symlink', linkpath: '/etc/passwd'}))).to.deep.equal([
      'symlink "models/l" → "/etc/passwd" points outside models/',
    ])
    expect(entryProblems(entry('models/l', {type: 'symlink', linkpath: '../../etc/passwd'}))).to.deep.equal([
      'symlink "models/l" → "../../etc/passwd" points outside models/',
    ])
    expect(entryProblems(entry('models/h', {type: 'hardlink', linkpath: 'models/a.bin'}))).to.deep.equal([])
    expect(entryProblems(entry('models/h', {type: 'hardlink', linkpath: 'etc/shadow'}))).to.deep.equal([
      'hardlink "models/h" → "etc/shadow" points outside models/',
    ])
  })

  it('refuses devices, fifos, sparse files and unknown types', () => {
    expect(entryProblems(entry('models/dev', {type: 'char-device'}))).to.deep.equal(['"models/dev" is a char-device entry'])
    expect(entryProblems(entry('models/s', {type: 'other', typeflag: 'S', sparse: true}))).to.deep.equal(['"models/s" is a sparse file'])
    expect(entryProblems(entry('models/v', {type: 'other', typeflag: 'V'}))).to.deep.equal(['"models/v" is a type "V" entry'])
  })
})
