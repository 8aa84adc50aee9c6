#!/usr/bin/env node
// The system programs modelcar's install and tests need, in one list (.ci/run
// reads it too). `npm test` runs this first, so a test never skips or fails
// for a missing program: when one is missing and we are root with apt-get (CI
// runners, fresh containers), the packages are installed (one line says so);
// otherwise it stops at once with one line naming the exact command.
//
//   node scripts/test-prereqs.js               check (and provision) everything `npm test` needs
//   node scripts/test-prereqs.js --tools-only  only the programs (before `npm ci`: .ci/run)
//   node scripts/test-prereqs.js --list        print "command package" per line
//
// MODELCAR_PREREQS_NO_INSTALL=1 never installs: it prints the command instead.
import {spawnSync} from 'node:child_process'
import {accessSync, constants, existsSync} from 'node:fs'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** [program, Debian/Ubuntu package]: what the tests run, and what compiles the native addons at `npm ci`. */
const TOOLS = [
  ['docker-registry', 'docker-registry'], // the real registry every e2e test pushes to
  ['skopeo', 'skopeo'], // read-back of pushed images
  ['umoci', 'umoci'],
  ['podman', 'podman'], // a real consumer (pull, mount, chroot)
  ['busybox', 'busybox-static'], // the base image the consumer tests build
  ['tinyproxy', 'tinyproxy'], // corporate proxy tests
  ['openssl', 'openssl'], // test PKI, token server keys
  ['tmux', 'tmux'], // terminal and zsh completion tests
  ['zsh', 'zsh'],
  ['zstd', 'zstd'], // a zstd layer for verify
  ['git', 'git'], // the Hub simulator's own tests check git blob ids
  ['make', 'make'], // better-sqlite3 (when no prebuilt binary) and native/sha256_state.c
  ['g++', 'g++'],
  ['python3', 'python3'],
]

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const ADDON = join(ROOT, 'build', 'Release', 'sha256_state.node')
const say = (line) => process.stderr.write(`${line}\n`)

function onPath(program, env = process.env) {
  // The registry fixture runs MODELCAR_TEST_REGISTRY_BIN when it is set.
  if (program === 'docker-registry' && env.MODELCAR_TEST_REGISTRY_BIN) return executable(env.MODELCAR_TEST_REGISTRY_BIN)
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, program)))
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const missingPackages = () => [...new Set(TOOLS.filter(([program]) => !onPath(program)).map(([, pkg]) => pkg))]

function installCommand(packages) {
  return `${process.getuid?.() === 0 ? '' : 'sudo '}apt-get install -y ${packages.join(' ')}`
}

/** apt-get as root, quietly; its own output only when it fails. */
function aptInstall(packages) {
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...packages],
  ]) {
    const r = spawnSync('apt-get', args, {env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe']})
    if (r.status !== 0) {
      process.stderr.write(r.stderr ?? '')
      return false
    }
  }
  return true
}

function provisionTools() {
  const missing = missingPackages()
  if (missing.length === 0) return true
  const canInstall = !process.env.MODELCAR_PREREQS_NO_INSTALL && process.getuid?.() === 0 && onPath('apt-get')
  if (canInstall) {
    say(`test-prereqs: installing ${missing.join(' ')} with apt-get (the tests need them)`)
    const stillMissing = aptInstall(missing) ? missingPackages() : missing
    if (stillMissing.length === 0) return true
    say(`test-prereqs: apt-get could not install ${stillMissing.join(' ')}: run ${installCommand(stillMissing)} and read its error`)
    return false
  }
  say(`test-prereqs: the tests need ${missing.join(', ')}, not installed: run ${installCommand(missing)}`)
  return false
}

/** The saveable SHA-256 addon: `npm ci` builds it, or only warns when it cannot (no compiler then). */
function provisionAddon() {
  if (existsSync(ADDON)) return true
  say('test-prereqs: building native/sha256_state.c (npm run install), which the checkpoint tests need')
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []]
  spawnSync(npm[0], [...npm[1], 'run', 'install', '--silent'], {cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit']})
  if (existsSync(ADDON)) return true
  say('test-prereqs: native/sha256_state.c did not build: run npx node-gyp rebuild in the repository and read its error')
  return false
}

const args = new Set(process.argv.slice(2))
if (args.has('--list')) {
  for (const [program, pkg] of TOOLS) process.stdout.write(`${program} ${pkg}\n`)
} else if (!provisionTools() || (!args.has('--tools-only') && !provisionAddon())) {
  process.exitCode = 1
}
