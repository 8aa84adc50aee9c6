// scripts/test-prereqs.js, which `npm test` runs first: with everything
// present it is silent; a program missing (PATH pointing at a folder without
// it) stops it at once with one line naming the exact apt-get command; as root
// with apt-get it installs exactly the missing packages (a stand-in apt-get).
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ROOT} from '../e2e/helpers.js'

const SCRIPT = join(ROOT, 'scripts/test-prereqs.js')
const run = (env: NodeJS.ProcessEnv, args: string[] = []) =>
  spawnSync(process.execPath, [SCRIPT, ...args], {env: {HOME: tmpdir(), ...env}, encoding: 'utf8'})
const sudo = process.getuid?.() === 0 ? '' : 'sudo '

/** [program, package] of the one list. */
function tools(): Array<[string, string]> {
  const listed = run({PATH: process.env.PATH}, ['--list'])
  expect(listed.status).to.equal(0)
  return listed.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ') as [string, string])
}

/** A folder holding every listed program that is on this machine's PATH, except `without`. */
function pathWithout(without: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mc-prereqs-'))
  for (const [program] of tools()) {
    if (without.includes(program)) continue
    const found = spawnSync('sh', ['-c', `command -v ${program}`], {encoding: 'utf8'}).stdout.trim()
    expect(found, `${program} on this machine`).to.not.equal('')
    symlinkSync(found, join(dir, program))
  }
  return dir
}

describe('scripts/test-prereqs.js', function () {
  this.timeout(60_000)

  it('lists the programs with their packages, shared with .ci/run', () => {
    expect(tools()).to.deep.include.members([
      ['docker-registry', 'docker-registry'],
      ['busybox', 'busybox-static'],
      ['zsh', 'zsh'],
      ['g++', 'g++'],
    ])
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).to.include('node scripts/test-prereqs.js --tools-only')
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.test).to.match(/^node scripts\/test-prereqs\.js && /)
  })

  it('prints nothing and exits 0 when everything is there', () => {
    const res = run({PATH: process.env.PATH})
    expect(res.stderr).to.equal('')
    expect(res.stdout).to.equal('')
    expect(res.status).to.equal(0)
  })

  it('stops at once with one line naming the apt-get command for exactly the missing packages', () => {
    const res = run({PATH: pathWithout(['umoci', 'busybox', 'zsh']), MODELCAR_PREREQS_NO_INSTALL: '1'})
    expect(res.stdout).to.equal('')
    expect(res.stderr).to.equal(
      `test-prereqs: the tests need umoci, busybox-static, zsh, not installed: run ${sudo}apt-get install -y umoci busybox-static zsh\n`,
    )
    expect(res.status).to.equal(1)
  })

  it('as root with apt-get: installs the missing packages, saying so in one line', function () {
    if (process.getuid?.() !== 0) this.skip() // the install path is root's only
    const dir = pathWithout(['umoci', 'zsh'])
    const log = join(dir, 'apt.log')
    // A stand-in apt-get: records its arguments and "installs" by linking the program into the PATH folder.
    writeFileSync(
      join(dir, 'apt-get'),
      `#!/bin/sh\necho "$*" >> ${log}\n[ "$1" = install ] && for p in "$@"; do case $p in -*|install) ;; *) /bin/ln -s /bin/true ${dir}/$p ;; esac; done\nexit 0\n`,
      {mode: 0o755},
    )
    const res = run({PATH: dir})
    expect(res.stderr).to.equal('test-prereqs: installing umoci zsh with apt-get (the tests need them)\n')
    expect(res.status).to.equal(0)
    expect(readFileSync(log, 'utf8')).to.equal('update -qq\ninstall -y -qq umoci zsh\n')
    expect(existsSync(join(dir, 'zsh'))).to.equal(true)
  })

  it('as root, when apt-get cannot install: one line with the command, exit 1', function () {
    if (process.getuid?.() !== 0) this.skip() // the install path is root's only
    const dir = pathWithout(['umoci'])
    writeFileSync(
      join(dir, 'apt-get'),
      '#!/bin/sh\n[ "$1" = install ] && { echo "E: Unable to locate package umoci" >&2; exit 100; }\nexit 0\n',
      {
        mode: 0o755,
      },
    )
    const res = run({PATH: dir})
    expect(res.stderr.split('\n')).to.deep.equal([
      'test-prereqs: installing umoci with apt-get (the tests need them)',
      'E: Unable to locate package umoci',
      'test-prereqs: apt-get could not install umoci: run apt-get install -y umoci and read its error',
      '',
    ])
    expect(res.status).to.equal(1)
  })
})
