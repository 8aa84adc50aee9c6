import {expect} from 'chai'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {EXIT, ModelcarError, UsageError} from '../../../src/lib/errors.js'
import {findRegistryCredential, type FindRegistryCredentialOptions, type RegistryCredential} from '../../../src/lib/oci/credentials.js'

// Every secret in these fixtures contains this marker, so one check finds a leak.
const MARK = 'S3CRET'
const b64 = (s: string) => Buffer.from(s).toString('base64')

// A fake docker credential helper, installed as docker-credential-test and
// docker-credential-other. It logs "<name> <verb> <stdin>" to $HELPER_LOG and
// answers by server URL, as real helpers do.
const HELPER = `#!/bin/sh
name=$(basename "$0")
server=$(cat)
printf '%s %s %s\\n' "$name" "$1" "$server" >> "$HELPER_LOG"
[ "$1" = get ] || { echo "unsupported verb" >&2; exit 2; }
case "$server" in
  ghcr.io|localhost:5000|quay.io) printf '{"ServerURL":"%s","Username":"user-from-%s","Secret":"pw-from-%s-${MARK}"}' "$server" "$name" "$name" ;;
  token.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-${MARK}"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hub-user","Secret":"hub-${MARK}"}' "$server" ;;
  broken.example.com) echo "leaky stdout ${MARK}"; echo "leaky stderr ${MARK}" >&2; exit 3 ;;
  garbage.example.com) echo "this is not json ${MARK}" ;;
  wrongtype.example.com) echo '{"Username":1,"Secret":"${MARK}"}' ;;
  empty.example.com) exit 0 ;;
  nosecret.example.com) echo '{"ServerURL":"nosecret.example.com","Username":"u","Secret":""}' ;;
  slow.example.com) exec sleep 30 ;;
  killed.example.com) kill -9 $$ ;;
  stderr-notfound.example.com) echo "credentials not found in native keychain" >&2; exit 1 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`

interface Fixture {
  root: string
  home: string
  bin: string
  log: string
  env: NodeJS.ProcessEnv
  opts(extra?: Partial<FindRegistryCredentialOptions>): FindRegistryCredentialOptions
  dockerConfig(content: unknown, dir?: string): Promise<string>
  file(rel: string, content: unknown): Promise<string>
  calls(): Promise<string[]>
}

async function fixture(): Promise<Fixture> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'modelcar-creds-'))
  const home = path.join(root, 'home')
  const bin = path.join(root, 'bin')
  const log = path.join(root, 'helper.log')
  await fs.mkdir(home, {recursive: true})
  await fs.mkdir(bin)
  for (const name of ['test', 'other']) await fs.writeFile(path.join(bin, `docker-credential-${name}`), HELPER, {mode: 0o755})
  await fs.writeFile(log, '')
  // Only what the lookup should see: no OCI_*, DOCKER_CONFIG, XDG_RUNTIME_DIR or REGISTRY_AUTH_FILE from the outer environment.
  const env: NodeJS.ProcessEnv = {PATH: `${bin}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`, HELPER_LOG: log}
  const write = async (file: string, content: unknown) => {
    await fs.mkdir(path.dirname(file), {recursive: true})
    await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2))
    return file
  }
  return {
    root,
    home,
    bin,
    log,
    env,
    opts: (extra = {}) => ({env, homedir: home, ...extra}),
    dockerConfig: (content, dir = path.join(home, '.docker')) => write(path.join(dir, 'config.json'), content),
    file: (rel, content) => write(path.join(root, rel), content),
    calls: async () => (await fs.readFile(log, 'utf8')).split('\n').filter((l) => l !== ''),
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (error) {
    expect(error).to.be.instanceOf(Error)
    const e = error as Error
    // One line, and never a secret: not in the message, the stack or a cause.
    expect(e.message).to.not.include('\n')
    expect(e.message).to.not.include(MARK)
    expect(String(e.stack)).to.not.include(MARK)
    expect(String((e as {cause?: Error}).cause ?? '')).to.not.include(MARK)
    return e
  }
  throw new Error('expected a rejection')
}

describe('oci/credentials', function () {
  this.timeout(20_000)
  let f: Fixture

  beforeEach(async () => {
    f = await fixture()
  })

  afterEach(async () => {
    await fs.rm(f.root, {recursive: true, force: true})
  })

  it('finds nothing when nothing is configured', async () => {
    expect(await findRegistryCredential('ghcr.io', f.opts())).to.equal(undefined)
    expect(await f.calls()).to.deep.equal([])
  })

  describe('environment', () => {
    it('OCI_USERNAME + OCI_PASSWORD win over every file', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64(`file:${MARK}`)}}, credsStore: 'test'})
      const env = {...f.env, OCI_USERNAME: 'env-user', OCI_PASSWORD: `env-${MARK}`}
      expect(await findRegistryCredential('ghcr.io', f.opts({env}))).to.deep.equal({
        kind: 'basic',
        username: 'env-user',
        password: `env-${MARK}`,
        source: 'OCI_USERNAME/OCI_PASSWORD',
      })
      expect(await f.calls()).to.deep.equal([])
    })

    it('treats empty values as unset', async () => {
      const env = {...f.env, OCI_USERNAME: '', OCI_PASSWORD: ''}
      expect(await findRegistryCredential('ghcr.io', f.opts({env}))).to.equal(undefined)
    })

    it('rejects half a pair without echoing the password', async () => {
      let e = await rejection(findRegistryCredential('ghcr.io', f.opts({env: {...f.env, OCI_PASSWORD: `only-${MARK}`}})))
      expect(e).to.be.instanceOf(UsageError)
      expect(e.message).to.equal(
        'OCI_PASSWORD is set but OCI_USERNAME is not; set both, or unset OCI_PASSWORD to use docker/podman credentials.',
      )
      e = await rejection(findRegistryCredential('ghcr.io', f.opts({env: {...f.env, OCI_USERNAME: 'someone'}})))
      expect(e.message).to.equal(
        'OCI_USERNAME is set but OCI_PASSWORD is not; set both, or unset OCI_USERNAME to use docker/podman credentials.',
      )
    })
  })

  describe('docker config.json auths', () => {
    const source = '~/.docker/config.json'

    it('decodes "auth" (base64 user:password, split at the first colon)', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64(`alice:pa:ss-${MARK}`)}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'alice',
        password: `pa:ss-${MARK}`,
        source,
      })
    })

    it('reads "username"/"password" fields, in any letter case as Go does', async () => {
      await f.dockerConfig({
        auths: {'ghcr.io': {username: 'bob', password: `b-${MARK}`}, 'quay.io': {Username: 'carol', Password: `c-${MARK}`}},
      })
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'bob',
        password: `b-${MARK}`,
        source,
      })
      expect(await findRegistryCredential('quay.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'carol',
        password: `c-${MARK}`,
        source,
      })
    })

    it('"auth" takes precedence over "username"/"password"', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64(`alice:a-${MARK}`), username: 'bob', password: 'b'}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'alice',
        password: `a-${MARK}`,
        source,
      })
    })

    it('returns an identity token, with the username from "auth" when there is one', async () => {
      await f.dockerConfig({
        auths: {
          'myreg.azurecr.io': {auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: `idt-${MARK}`},
          'other.example.com': {identitytoken: `idt2-${MARK}`},
          'go.example.com': {IdentityToken: `idt3-${MARK}`},
        },
      })
      expect(await findRegistryCredential('myreg.azurecr.io', f.opts())).to.deep.equal({
        kind: 'identity-token',
        username: '00000000-0000-0000-0000-000000000000',
        token: `idt-${MARK}`,
        source,
      })
      expect(await findRegistryCredential('other.example.com', f.opts())).to.deep.equal({
        kind: 'identity-token',
        token: `idt2-${MARK}`,
        source,
      })
      expect(await findRegistryCredential('go.example.com', f.opts())).to.deep.equal({
        kind: 'identity-token',
        token: `idt3-${MARK}`,
        source,
      })
    })

    const keys: Array<[string, string]> = [
      ['ghcr.io', 'ghcr.io'],
      ['https://ghcr.io', 'ghcr.io'],
      ['http://ghcr.io', 'ghcr.io'],
      ['https://ghcr.io/v1/', 'ghcr.io'],
      ['ghcr.io/v2/', 'ghcr.io'],
      ['GHCR.IO', 'ghcr.io'],
      ['https://GHCR.io/', 'ghcr.io'],
      ['localhost:5000', 'localhost:5000'],
      ['http://localhost:5000', 'localhost:5000'],
      ['[::1]:5000', '[::1]:5000'],
      ['https://index.docker.io/v1/', 'docker.io'],
      ['https://index.docker.io/v1/', 'registry-1.docker.io'],
      ['https://index.docker.io/v1/', 'index.docker.io'],
      ['docker.io', 'registry-1.docker.io'],
      ['registry-1.docker.io', 'docker.io'],
      ['ghcr.io', 'https://ghcr.io/'],
    ]
    for (const [key, host] of keys) {
      it(`key ${JSON.stringify(key)} applies to ${JSON.stringify(host)}`, async () => {
        await f.dockerConfig({auths: {[key]: {auth: b64(`u:p-${MARK}`)}}})
        expect(await findRegistryCredential(host, f.opts())).to.deep.equal({kind: 'basic', username: 'u', password: `p-${MARK}`, source})
      })
    }

    const nonKeys: Array<[string, string]> = [
      ['ghcr.io', 'ghcr.io:443'],
      ['localhost:5000', 'localhost'],
      ['localhost', 'localhost:5000'],
      ['ghcr.io.evil.com', 'ghcr.io'],
      ['evilghcr.io', 'ghcr.io'],
      ['https://index.docker.io/v1/', 'quay.io'],
    ]
    for (const [key, host] of nonKeys) {
      it(`key ${JSON.stringify(key)} does not apply to ${JSON.stringify(host)}`, async () => {
        await f.dockerConfig({auths: {[key]: {auth: b64(`u:p-${MARK}`)}}})
        expect(await findRegistryCredential(host, f.opts())).to.equal(undefined)
      })
    }

    it('prefers the exact key to a normalised one, whatever the order', async () => {
      await f.dockerConfig({auths: {'https://ghcr.io/v1/': {auth: b64('url:u')}, 'ghcr.io': {auth: b64('exact:e')}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.include({username: 'exact'})
    })

    it('skips placeholder entries ({} as Docker Desktop writes them)', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {}, 'https://ghcr.io': {auth: b64(`real:r-${MARK}`)}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.include({username: 'real'})
      await f.dockerConfig({auths: {'ghcr.io': {}, 'quay.io': {auth: b64('')}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.equal(undefined)
      expect(await findRegistryCredential('quay.io', f.opts())).to.equal(undefined)
    })

    it('uses $DOCKER_CONFIG instead of ~/.docker and names it as the source', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64('home:h')}}})
      const dir = path.join(f.root, 'custom-docker')
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64(`custom:c-${MARK}`)}}}, dir)
      expect(await findRegistryCredential('ghcr.io', f.opts({env: {...f.env, DOCKER_CONFIG: dir}}))).to.deep.equal({
        kind: 'basic',
        username: 'custom',
        password: `c-${MARK}`,
        source: path.join(dir, 'config.json'),
      })
      const inHome = path.join(f.home, 'cfg')
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64('h2:x')}}}, inHome)
      expect(await findRegistryCredential('ghcr.io', f.opts({env: {...f.env, DOCKER_CONFIG: inHome}}))).to.include({
        source: '~/cfg/config.json',
      })
    })

    it('treats an empty file as no configuration', async () => {
      await f.dockerConfig('  \n')
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.equal(undefined)
    })

    it('tolerates a UTF-8 byte order mark', async () => {
      await f.dockerConfig(`\uFEFF${JSON.stringify({auths: {'ghcr.io': {auth: b64('bom:b')}}})}`)
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.include({username: 'bom'})
    })
  })

  describe('docker credential helpers', () => {
    it('asks credHelpers[host] with the host on stdin, and PATH from opts.env', async () => {
      await f.dockerConfig({credHelpers: {'ghcr.io': 'test'}})
      expect(process.env.PATH ?? '').to.not.include(f.bin)
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'user-from-docker-credential-test',
        password: `pw-from-docker-credential-test-${MARK}`,
        source: 'docker-credential-test',
      })
      expect(await f.calls()).to.deep.equal(['docker-credential-test get ghcr.io'])
    })

    it('matches credHelpers keys like auths keys', async () => {
      await f.dockerConfig({credHelpers: {'https://localhost:5000': 'test'}})
      expect(await findRegistryCredential('localhost:5000', f.opts())).to.include({source: 'docker-credential-test'})
      expect(await f.calls()).to.deep.equal(['docker-credential-test get localhost:5000'])
    })

    it('sends Docker Hub as https://index.docker.io/v1/', async () => {
      await f.dockerConfig({credHelpers: {'docker.io': 'test'}})
      expect(await findRegistryCredential('registry-1.docker.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'hub-user',
        password: `hub-${MARK}`,
        source: 'docker-credential-test',
      })
      expect(await f.calls()).to.deep.equal(['docker-credential-test get https://index.docker.io/v1/'])
    })

    it('maps Username "<token>" to an identity token', async () => {
      await f.dockerConfig({credsStore: 'test'})
      expect(await findRegistryCredential('token.example.com', f.opts())).to.deep.equal({
        kind: 'identity-token',
        token: `refresh-${MARK}`,
        source: 'docker-credential-test',
      })
    })

    it('credHelpers come before auths, auths before credsStore', async () => {
      await f.dockerConfig({
        credHelpers: {'ghcr.io': 'test'},
        auths: {'ghcr.io': {auth: b64('from-auths:a')}, 'quay.io': {auth: b64('from-auths:q')}},
        credsStore: 'other',
      })
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.include({source: 'docker-credential-test'})
      expect(await findRegistryCredential('quay.io', f.opts())).to.deep.equal({
        kind: 'basic',
        username: 'from-auths',
        password: 'q',
        source: '~/.docker/config.json',
      })
      expect(await findRegistryCredential('localhost:5000', f.opts())).to.include({
        source: 'docker-credential-other',
        username: 'user-from-docker-credential-other',
      })
      expect(await f.calls()).to.deep.equal(['docker-credential-test get ghcr.io', 'docker-credential-other get localhost:5000'])
    })

    it('falls through when a helper has no credentials ("credentials not found")', async () => {
      await f.dockerConfig({credHelpers: {'nothere.example.com': 'test'}, auths: {'nothere.example.com': {auth: b64('fallback:f')}}})
      expect(await findRegistryCredential('nothere.example.com', f.opts())).to.include({username: 'fallback'})
      await f.dockerConfig({credHelpers: {'nothere.example.com': 'test'}, credsStore: 'other'})
      expect(await findRegistryCredential('nothere.example.com', f.opts())).to.equal(undefined)
      expect(await f.calls()).to.deep.equal([
        'docker-credential-test get nothere.example.com',
        'docker-credential-test get nothere.example.com',
        'docker-credential-other get nothere.example.com',
      ])
    })

    it('also takes "credentials not found" on stderr, empty output, or an empty secret as none', async () => {
      await f.dockerConfig({credsStore: 'test'})
      for (const host of ['stderr-notfound.example.com', 'empty.example.com', 'nosecret.example.com']) {
        expect(await findRegistryCredential(host, f.opts()), host).to.equal(undefined)
      }
    })

    it('a failing helper is a one-line error naming it, without its output', async () => {
      await f.dockerConfig({credsStore: 'test'})
      const e = await rejection(findRegistryCredential('broken.example.com', f.opts()))
      expect(e).to.be.instanceOf(ModelcarError)
      expect((e as ModelcarError).code).to.equal('E_CREDENTIAL_HELPER')
      expect(e.message).to.equal(
        'Credential helper docker-credential-test failed with exit code 3 for broken.example.com; run "echo broken.example.com | docker-credential-test get" to see why.',
      )
      expect(e.message).to.not.include('leaky')
    })

    it('a helper killed by a signal is reported as such', async () => {
      await f.dockerConfig({credsStore: 'test'})
      const e = await rejection(findRegistryCredential('killed.example.com', f.opts()))
      expect(e.message).to.equal(
        'Credential helper docker-credential-test was killed by SIGKILL for killed.example.com; run "echo killed.example.com | docker-credential-test get" to see why.',
      )
    })

    it('rejects output that is not the expected JSON, without echoing it', async () => {
      await f.dockerConfig({credsStore: 'test'})
      for (const host of ['garbage.example.com', 'wrongtype.example.com']) {
        const e = await rejection(findRegistryCredential(host, f.opts()))
        expect(e.message).to.equal(
          `Credential helper docker-credential-test answered for ${host} with something other than {"Username","Secret"} JSON; update the helper or run "echo ${host} | docker-credential-test get" to see why.`,
        )
      }
    })

    it('times out a helper that does not answer', async () => {
      await f.dockerConfig({credsStore: 'test'})
      const start = Date.now()
      const e = await rejection(findRegistryCredential('slow.example.com', f.opts({helperTimeoutMs: 300})))
      expect(Date.now() - start).to.be.below(5000)
      expect(e.message).to.equal(
        'Credential helper docker-credential-test did not answer within 300 ms for slow.example.com; check that it is not waiting for input (a locked keychain, a GPG passphrase), then run "echo slow.example.com | docker-credential-test get" to see why.',
      )
    })

    it('a missing helper is a usage error saying where it is configured', async () => {
      await f.dockerConfig({credsStore: 'desktop'})
      let e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      expect(e).to.be.instanceOf(UsageError)
      expect(e.message).to.equal(
        'Credential helper docker-credential-desktop (credsStore in ~/.docker/config.json) is not installed or not on PATH; install it, or remove it from that file.',
      )
      await f.dockerConfig({credHelpers: {'ghcr.io': 'ecr-login'}})
      e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      expect(e.message).to.equal(
        'Credential helper docker-credential-ecr-login (credHelpers in ~/.docker/config.json) is not installed or not on PATH; install it, or remove it from that file.',
      )
    })

    it('a helper that is not executable is a usage error', async () => {
      await fs.writeFile(path.join(f.bin, 'docker-credential-noexec'), HELPER, {mode: 0o644})
      await f.dockerConfig({credsStore: 'noexec'})
      const e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      // root may execute nothing without an x bit either: EACCES for everyone.
      expect(e.message).to.equal(
        'Credential helper docker-credential-noexec (credsStore in ~/.docker/config.json) is not executable; fix its permissions (chmod +x).',
      )
    })

    it('refuses helper names that are paths', async () => {
      await f.dockerConfig({credsStore: '../../bin/sh'})
      const e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      expect(e.message).to.equal(
        'Invalid credential helper name "../../bin/sh" (credsStore in ~/.docker/config.json); use the helper\'s suffix, e.g. "pass" for docker-credential-pass.',
      )
      await f.dockerConfig({credHelpers: {'ghcr.io': 42}})
      expect((await rejection(findRegistryCredential('ghcr.io', f.opts()))).message).to.equal(
        'Invalid credential helper name a non-string value (credHelpers in ~/.docker/config.json); use the helper\'s suffix, e.g. "pass" for docker-credential-pass.',
      )
    })

    it('ignores an empty credsStore', async () => {
      await f.dockerConfig({credsStore: ''})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.equal(undefined)
    })
  })

  describe('containers auth.json', () => {
    it('reads $XDG_RUNTIME_DIR/containers/auth.json', async () => {
      await f.file('run/containers/auth.json', {auths: {'quay.io': {auth: b64(`podman:p-${MARK}`)}}})
      const env = {...f.env, XDG_RUNTIME_DIR: path.join(f.root, 'run')}
      expect(await findRegistryCredential('quay.io', f.opts({env}))).to.deep.equal({
        kind: 'basic',
        username: 'podman',
        password: `p-${MARK}`,
        source: path.join(f.root, 'run/containers/auth.json'),
      })
    })

    it('$REGISTRY_AUTH_FILE wins over $XDG_RUNTIME_DIR', async () => {
      await f.file('run/containers/auth.json', {auths: {'quay.io': {auth: b64('xdg:x')}}})
      const file = await f.file('elsewhere/auth.json', {auths: {'quay.io': {auth: b64('explicit:e')}}})
      const env = {...f.env, XDG_RUNTIME_DIR: path.join(f.root, 'run'), REGISTRY_AUTH_FILE: file}
      expect(await findRegistryCredential('quay.io', f.opts({env}))).to.deep.equal({
        kind: 'basic',
        username: 'explicit',
        password: 'e',
        source: file,
      })
    })

    it('names a file under home with ~', async () => {
      const file = path.join(f.home, '.config/containers/auth.json')
      await fs.mkdir(path.dirname(file), {recursive: true})
      await fs.writeFile(file, JSON.stringify({auths: {'quay.io': {auth: b64('a:b')}}}))
      expect(await findRegistryCredential('quay.io', f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}}))).to.include({
        source: '~/.config/containers/auth.json',
      })
    })

    it('docker config comes first, auth.json only when it has nothing', async () => {
      await f.dockerConfig({auths: {'ghcr.io': {auth: b64('docker:d')}}})
      const file = await f.file('auth.json', {auths: {'ghcr.io': {auth: b64('podman:p')}, 'quay.io': {auth: b64('podman:q')}}})
      const env = {...f.env, REGISTRY_AUTH_FILE: file}
      expect(await findRegistryCredential('ghcr.io', f.opts({env}))).to.include({username: 'docker'})
      expect(await findRegistryCredential('quay.io', f.opts({env}))).to.include({username: 'podman', source: file})
    })

    describe('repository-scoped keys', () => {
      const auths = {
        'quay.io': {auth: b64('registry:r')},
        'quay.io/org': {auth: b64('namespace:n')},
        'quay.io/org/repo': {auth: b64('repository:x')},
        'quay.io/org/empty': {},
      }
      const table: Array<[string | undefined, string]> = [
        ['org/repo', 'repository'],
        ['org/repo/sub', 'repository'],
        ['org/other', 'namespace'],
        ['org/empty', 'namespace'],
        ['organisation/x', 'registry'],
        ['other/x', 'registry'],
        [undefined, 'registry'],
        ['/org/repo/', 'repository'],
      ]
      for (const [repository, username] of table) {
        it(`repository ${JSON.stringify(repository)} uses the ${username} key`, async () => {
          const file = await f.file('auth.json', auths)
          await fs.writeFile(file, JSON.stringify({auths}))
          const got = await findRegistryCredential(
            'quay.io',
            f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}, ...(repository === undefined ? {} : {repository})}),
          )
          expect(got).to.include({username})
        })
      }

      it('a namespace key alone does not apply to the whole registry', async () => {
        const file = await f.file('auth.json', {auths: {'quay.io/org': {auth: b64('namespace:n')}}})
        expect(await findRegistryCredential('quay.io', f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}}))).to.equal(undefined)
        expect(
          await findRegistryCredential('quay.io', f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}, repository: 'org/m'})),
        ).to.include({username: 'namespace'})
      })

      it('Docker Hub namespace keys match any of its names', async () => {
        const file = await f.file('auth.json', {auths: {'docker.io/myorg': {auth: b64('hubns:h')}}})
        expect(
          await findRegistryCredential(
            'registry-1.docker.io',
            f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}, repository: 'myorg/model'}),
          ),
        ).to.include({username: 'hubns'})
      })
    })

    it('a missing auth file is no credential', async () => {
      const env = {...f.env, REGISTRY_AUTH_FILE: path.join(f.root, 'nope.json'), XDG_RUNTIME_DIR: path.join(f.root, 'no-such-dir')}
      expect(await findRegistryCredential('quay.io', f.opts({env}))).to.equal(undefined)
    })
  })

  describe('broken files', () => {
    it('malformed JSON names the file, not its contents', async () => {
      await f.dockerConfig(`{"auths": {"ghcr.io": {"auth": "${b64(`u:${MARK}`)}", "password": "${MARK}"}},,}`)
      const e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      expect(e).to.be.instanceOf(UsageError)
      expect((e as UsageError).exitCode).to.equal(EXIT.usage)
      expect(e.message).to.equal(
        '~/.docker/config.json is not valid JSON; fix its syntax (or move it aside) so registry credentials can be read.',
      )
    })

    it('malformed auth.json names that file', async () => {
      const file = await f.file('auth.json', `{"auths": {"quay.io": {"auth": "${MARK}"`)
      const e = await rejection(findRegistryCredential('quay.io', f.opts({env: {...f.env, REGISTRY_AUTH_FILE: file}})))
      expect(e.message).to.equal(`${file} is not valid JSON; fix its syntax (or move it aside) so registry credentials can be read.`)
    })

    const shapes: Array<[string, unknown, string]> = [
      [
        'a JSON array',
        [1, 2],
        '~/.docker/config.json is not a JSON object; fix it (or move it aside) so registry credentials can be read.',
      ],
      [
        'auths as a string',
        {auths: MARK},
        '"auths" in ~/.docker/config.json is not a JSON object; fix it (or move the file aside) so registry credentials can be read.',
      ],
      [
        'credHelpers as an array',
        {credHelpers: [MARK]},
        '"credHelpers" in ~/.docker/config.json is not a JSON object; fix it (or move the file aside) so registry credentials can be read.',
      ],
      [
        'an entry that is a string',
        {auths: {'ghcr.io': MARK}},
        'The auths entry for ghcr.io in ~/.docker/config.json is not a JSON object; fix it or log in again.',
      ],
      [
        'a password that is a number',
        {auths: {'ghcr.io': {username: 'u', password: 1234}}},
        '"password" in the auths entry for ghcr.io in ~/.docker/config.json is not a string; fix it or log in again.',
      ],
      [
        '"auth" that is not base64',
        {auths: {'ghcr.io': {auth: `!!${MARK}!!`}}},
        'The "auth" value of the auths entry for ghcr.io in ~/.docker/config.json is not base64 of "username:password"; log in to ghcr.io again or fix the entry.',
      ],
      [
        '"auth" without a colon',
        {auths: {'ghcr.io': {auth: b64(`justapassword${MARK}`)}}},
        'The "auth" value of the auths entry for ghcr.io in ~/.docker/config.json is not base64 of "username:password"; log in to ghcr.io again or fix the entry.',
      ],
    ]
    for (const [what, content, message] of shapes) {
      it(`${what} is a usage error`, async () => {
        await f.dockerConfig(content)
        const e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
        expect(e).to.be.instanceOf(UsageError)
        expect(e.message).to.equal(message)
      })
    }

    it('a broken entry for another registry does not matter', async () => {
      await f.dockerConfig({auths: {'quay.io': {auth: '!!!'}, 'ghcr.io': {auth: b64('ok:o')}}})
      expect(await findRegistryCredential('ghcr.io', f.opts())).to.include({username: 'ok'})
    })

    it('a directory where the file should be is a usage error', async () => {
      await fs.mkdir(path.join(f.home, '.docker', 'config.json'), {recursive: true})
      const e = await rejection(findRegistryCredential('ghcr.io', f.opts()))
      expect(e.message).to.equal(
        '~/.docker/config.json is a directory, not a file; remove it or point the variable that names it elsewhere.',
      )
    })

    it('rejects a host that is not a host', async () => {
      const e = await rejection(findRegistryCredential('', f.opts()))
      expect(e.message).to.equal('Invalid registry host "" for credential lookup; pass host[:port], e.g. "ghcr.io".')
      expect((await rejection(findRegistryCredential('quay.io/org', f.opts()))).message).to.equal(
        'Invalid registry host "quay.io/org" for credential lookup; pass host[:port], e.g. "ghcr.io".',
      )
    })
  })

  it('only reads credential files, never writes them', async () => {
    const docker = await f.dockerConfig({
      auths: {'ghcr.io': {}, 'quay.io': {auth: b64('u:p')}},
      credHelpers: {'localhost:5000': 'test'},
      credsStore: 'other',
    })
    const auth = await f.file('auth.json', {auths: {'example.com': {auth: b64('a:b')}}})
    const before = await Promise.all(
      [docker, auth].map(async (p) => ({text: await fs.readFile(p, 'utf8'), mtime: (await fs.stat(p)).mtimeMs})),
    )
    const env = {...f.env, REGISTRY_AUTH_FILE: auth}
    const found: Array<RegistryCredential | undefined> = []
    for (const host of ['ghcr.io', 'quay.io', 'localhost:5000', 'example.com', 'nothing.example.com'])
      found.push(await findRegistryCredential(host, f.opts({env})))
    expect(found.map((c) => c?.source)).to.deep.equal([
      'docker-credential-other',
      '~/.docker/config.json',
      'docker-credential-test',
      auth,
      undefined,
    ])
    const after = await Promise.all(
      [docker, auth].map(async (p) => ({text: await fs.readFile(p, 'utf8'), mtime: (await fs.stat(p)).mtimeMs})),
    )
    expect(after).to.deep.equal(before)
    expect(await fs.readdir(path.dirname(docker))).to.deep.equal(['config.json'])
  })

  it('source never carries a secret', async () => {
    await f.dockerConfig({auths: {'quay.io': {auth: b64(`u:${MARK}`)}}, credsStore: 'test'})
    for (const host of ['quay.io', 'ghcr.io', 'token.example.com']) {
      const c = await findRegistryCredential(host, f.opts())
      expect(c?.source, host).to.be.a('string').and.not.include(MARK)
    }
  })
})
