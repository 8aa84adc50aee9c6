// Hostile Hub listings, bad input and odd servers, through the built CLI (bin/run.js → dist/).
// Every refusal must be: a non-zero exit, exactly one stderr line starting with "Error: " that names the
// problem, and nothing pushed (the real registry's storage is unchanged and no write reached it).
// Faults the client is built to survive (a Hub that ignores Range, bodies shorter or longer than announced)
// must still give a byte-exact image, read back with skopeo and umoci.
import {expect} from 'chai'
import {existsSync, mkdtempSync, readdirSync, readFileSync, statSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {startFaultProxy, type FaultProxy} from '../fixtures/registry/proxy.js'
import {type CliRun, expectImageHolds, killStrayClis, outputValue, requireRealTools, runCli, tempStateDb} from './helpers.js'

const HF_TOKEN = 'hf_hostileSecretToken0123456789abc'
const GOOD_SHA = '1111111111111111111111111111111111111111'
const EVIL_SHA = '2222222222222222222222222222222222222222'
const SECRET_SHA = '3333333333333333333333333333333333333333'
const MiB = 1024 * 1024
const GOOD_FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"hostile"}\n')},
  {path: 'tokenizer.json', size: 1 * MiB + 3},
  {path: 'model.safetensors', size: 9 * MiB + 11, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))

const entry = (path: unknown, extra: Record<string, unknown> = {}) => ({type: 'file', oid: 'a'.repeat(40), size: 3, path, ...extra})

/** repo id → the tree listing the Hub serves for it (rawTree) */
const HOSTILE: Record<string, unknown[]> = {
  'evil/dotdot': [entry('ok.bin'), entry('../x')],
  'evil/dotdot-inner': [entry('a/../../x')],
  'evil/absolute': [entry('/abs')],
  'evil/backslash': [entry('a\\b')],
  'evil/nul': [entry('a\u0000b')],
  'evil/escape': [entry('a\u001b[2Jb')],
  'evil/newline': [entry('a\nError: fake line')],
  'evil/duplicate': [entry('a.bin'), entry('b.bin'), entry('a.bin')],
  'evil/nfc': [entry('caf\u00e9.bin'), entry('cafe\u0301.bin')],
  'evil/no-size': [entry('ok.bin'), {type: 'file', oid: 'a'.repeat(40), path: 'nosize.bin'}],
  'evil/negative-size': [entry('a.bin', {size: -1})],
  'evil/string-size': [entry('a.bin', {size: '3'})],
  'evil/no-path': [{type: 'file', oid: 'a'.repeat(40), size: 3}],
  'evil/bad-lfs': [entry('a.bin', {lfs: {oid: 'not-a-sha256', size: 3}})],
  'evil/not-a-list': {} as unknown as unknown[],
  'evil/malformed-json': [], // the listing is replaced by a malformed-json fault
  'evil/surrogate': [entry('a\ud800b')],
  'evil/c1-control': [entry('a\u009b2Jb')],
  'evil/file-and-dir': [entry('a'), entry('a/b')],
  // sizes that disagree with the bytes the Hub then sends (the real file has 103 bytes)
  'evil/size-too-small': [entry('a.bin', {size: 3})],
  'evil/size-too-big': [entry('a.bin', {size: 203})],
}
/** the files the simulator really serves for a hostile repo (default: ok.bin, 3 bytes) */
const HOSTILE_FILES: Record<string, SimFile[]> = {
  'evil/c1-control': [{path: 'a\u009b2Jb', size: 3}],
  'evil/file-and-dir': [{path: 'a/b', size: 3}],
  'evil/size-too-small': [{path: 'a.bin', size: 103}],
  'evil/size-too-big': [{path: 'a.bin', size: 103}],
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('Error: '))
}

/** exit `code`, exactly one "Error: " line on stderr matching `want`; `only`: stderr is that one line */
function expectRefused(res: CliRun, want: RegExp, opts: {code: number; only?: boolean}): string {
  const shown = `exit ${res.code}\nstderr: ${res.stderr}\nstdout: ${res.stdout}`
  expect(res.signal, shown).to.equal(null)
  expect(res.code, shown).to.equal(opts.code)
  const lines = errorLines(res.stderr)
  expect(lines, shown).to.have.length(1)
  expect(lines[0], shown).to.match(want)
  if (opts.only) expect(res.stderr.trim().split('\n'), shown).to.have.length(1)
  expect(res.stdout, shown).to.not.match(/IMAGEREF|MANIFESTDIGEST/)
  return lines[0]
}

/** every file under dir (relative, sorted), with its size */
function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else out.push(`${relative(dir, p)} ${st.size}`)
    }
  }
  walk(dir)
  return out.sort()
}

interface FakeServer {
  host: string
  url: string
  requests: Array<{method: string; url: string; authorization?: string}>
  close(): Promise<void>
}

async function fakeServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => void): Promise<FakeServer> {
  const requests: FakeServer['requests'] = []
  let origin = ''
  const srv = http.createServer((req, res) => {
    requests.push({method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization})
    req.resume()
    handler(req, res, origin)
  })
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', () => ok()))
  const port = (srv.address() as AddressInfo).port
  origin = `http://127.0.0.1:${port}`
  return {
    host: `127.0.0.1:${port}`,
    url: origin,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        srv.close(() => ok())
        srv.closeAllConnections()
      }),
  }
}

describe('e2e: hostile Hub listings and bad input', function () {
  this.timeout(240_000)
  let hub: HubSim
  let reg: TestRegistry
  let proxy: FaultProxy
  const closers: Array<() => Promise<void>> = []
  const state = tempStateDb

  before(async function () {
    await requireRealTools(this)
    hub = await startHubSim({
      tokens: [HF_TOKEN],
      repos: [
        {id: 'acme/good', commits: [{sha: GOOD_SHA, files: GOOD_FILES}]},
        {id: 'acme/secret', private: true, commits: [{sha: SECRET_SHA, files: GOOD_FILES}]},
        // the real files do not matter: the listing is replaced, and nothing must be downloaded
        ...Object.keys(HOSTILE).map((id) => ({id, commits: [{sha: EVIL_SHA, files: HOSTILE_FILES[id] ?? [{path: 'ok.bin', size: 3}]}]})),
      ],
      rawTree: (id) => (id in HOSTILE && id !== 'evil/malformed-json' ? HOSTILE[id] : undefined),
    })
    reg = await startRegistry()
    proxy = await startFaultProxy(reg.url)
  })
  afterEach(async () => {
    killStrayClis()
    // A push that failed at the registry may leave a Hub request the simulator reads late: not into the next test's faults.
    await hub?.settle()
    hub?.clearFaults()
  })
  after(async () => {
    for (const close of closers) await close().catch(() => {})
    await proxy?.close()
    await reg?.close()
    await hub?.close()
  })

  /** runs the CLI against the real registry (through the recording proxy) and checks that nothing was written */
  async function pushNothing(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    const before = snapshot(reg.storageDir)
    const mark = proxy.records.length
    const res = await runCli(['push', '--registry', proxy.host, '--max-retries', '0', ...args], {
      HF_ENDPOINT: hub.endpoint,
      MODELCAR_STATE_DB: state(),
      ...env,
    })
    const writes = proxy.records.slice(mark).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
    expect(
      writes.map((r) => `${r.method} ${r.url}`),
      res.stderr,
    ).to.deep.equal([])
    expect(snapshot(reg.storageDir), 'registry storage unchanged').to.deep.equal(before)
    return res
  }

  async function checkImage(ref: string, files: SimFile[], creds?: string): Promise<void> {
    await expectImageHolds(ref, files, {creds})
  }

  describe('hostile tree listings are refused before anything is pushed', () => {
    // An unusable listing (unsafe or clashing names) is bad input, exit 2; a Hub answering malformed data failed the work, exit 1.
    const cases: Array<[string, string, RegExp]> = [
      ['a "../x" path', 'evil/dotdot', /^Error: .*unsafe file path "\.\.\/x".*\.\./],
      ['a path that climbs out through a folder', 'evil/dotdot-inner', /^Error: .*unsafe file path "a\/\.\.\/\.\.\/x"/],
      ['an absolute path', 'evil/absolute', /^Error: .*unsafe file path "\/abs" \(absolute\)/],
      ['a backslash', 'evil/backslash', /^Error: .*unsafe file path "a\\\\b" \(backslash\)/],
      ['a NUL byte', 'evil/nul', /^Error: .*unsafe file path "a\\u0000b" \(control character\)/],
      ['an escape sequence', 'evil/escape', /^Error: .*unsafe file path "a\\u001b\[2Jb" \(control character\)/],
      ['a newline', 'evil/newline', /^Error: .*unsafe file path "a\\nError: fake line" \(control character\)/],
      ['a duplicate path', 'evil/duplicate', /^Error: .*"a\.bin".*listed twice/],
      ['two names equal after NFC normalisation', 'evil/nfc', /^Error: .*"cafe\u0301\.bin".*collides with "caf\u00e9\.bin"/],
      ['malformed JSON from the tree API', 'evil/malformed-json', /^Error: .*malformed JSON.*HF_ENDPOINT/],
      ['a tree entry without size', 'evil/no-size', /^Error: .*listed a file without a valid path or size/],
      ['a negative size', 'evil/negative-size', /^Error: .*without a valid path or size/],
      ['a size that is a string', 'evil/string-size', /^Error: .*without a valid path or size/],
      ['an entry without path', 'evil/no-path', /^Error: .*without a valid path or size/],
      ['an LFS entry with a bad sha256', 'evil/bad-lfs', /^Error: .*"a\.bin" with an invalid LFS sha256/],
      ['a listing that is not a list', 'evil/not-a-list', /^Error: .*file listing that is not a list/],
    ]
    const MALFORMED = [
      'evil/malformed-json',
      'evil/no-size',
      'evil/negative-size',
      'evil/string-size',
      'evil/no-path',
      'evil/bad-lfs',
      'evil/not-a-list',
    ]
    for (const [what, repo, want] of cases) {
      it(`${what} (${repo})`, async () => {
        if (repo === 'evil/malformed-json')
          hub.injectFault({kind: 'malformed-json', match: (p) => p.includes('/evil/malformed-json/tree/')})
        const res = await pushNothing(['--hf-repo', repo, '--target-repo', `hostile/${repo.split('/')[1]}`])
        expectRefused(res, want, {code: MALFORMED.includes(repo) ? 1 : 2, only: true})
        // hostile names are quoted, never written raw to the terminal
        expect(res.stderr).to.not.match(/[\u0000\u001b]/)
        expect(res.stderr.trim().split('\n')).to.have.length(1)
        // nothing was downloaded either (the access check, a HEAD asked beside the listing, carries no bytes)
        const fetched = hub.requests.filter((r) => r.url.includes(`/${repo}/resolve/`) || (r.origin === 'cdn' && r.url.includes(repo)))
        expect(fetched.filter((r) => r.method !== 'HEAD' || r.origin === 'cdn')).to.deep.equal([])
      })
    }

    it('a lone surrogate in a path (evil/surrogate)', async () => {
      const res = await pushNothing(['--hf-repo', 'evil/surrogate', '--target-repo', 'hostile/surrogate'])
      expectRefused(res, /^Error: .*unsafe file path "a\\ud800b"/, {code: 2, only: true})
    })

    it('a C1 control character is quoted in the error, not written raw', async () => {
      const res = await pushNothing(['--hf-repo', 'evil/c1-control', '--target-repo', 'hostile/c1'])
      expectRefused(res, /^Error: .*unsafe file path "a\\u009b2Jb" \(control character\)/, {code: 2, only: true})
      expect(res.stderr, 'the C1 character is quoted, not written raw').to.not.match(/[\u0080-\u009f]/)
    })

    it('a file that is also a folder ("a" and "a/b", evil/file-and-dir)', async () => {
      const res = await pushNothing(['--hf-repo', 'evil/file-and-dir', '--target-repo', 'hostile/file-and-dir'])
      expectRefused(res, /^Error: The Hub listed file "a\/b" that lies inside "a", which is also a file/, {code: 2, only: true})
    })
  })

  describe('a listing whose sizes disagree with the bytes the Hub sends', () => {
    for (const [repo, listed] of [
      ['evil/size-too-small', 3],
      ['evil/size-too-big', 203],
    ] as const) {
      it(`${repo}: refused with one error line; no blob and no manifest committed`, async () => {
        const mark = proxy.records.length
        const before = snapshot(reg.storageDir).filter((f) => !f.includes('/_uploads/'))
        const res = await runCli(
          ['push', '--hf-repo', repo, '--registry', proxy.host, '--target-repo', `hostile/${repo.split('/')[1]}`, '--max-retries', '0'],
          {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
        )
        expectRefused(res, new RegExp(`^Error: The Hub sent a\\.bin with 103 bytes where the listing says ${listed}`), {code: 1})
        // an upload session may have been opened (POST, and a PATCH carrying the tar header) before the Hub's
        // answer was checked, but nothing was committed
        expect(
          proxy.records
            .slice(mark)
            .filter((r) => r.method === 'PUT')
            .map((r) => `${r.method} ${r.url}`),
        ).to.deep.equal([])
        expect(snapshot(reg.storageDir).filter((f) => !f.includes('/_uploads/'))).to.deep.equal(before)
      })
    }
  })

  describe('bad flags are one-line usage errors (exit 2) that touch nothing', () => {
    const nowhere = ['push', '--max-retries', '0']
    const cases: Array<[string, string[], RegExp]> = [
      [
        '--hf-repo with three parts',
        ['--hf-repo', 'org/name/extra'],
        /^Error: Invalid --hf-repo "org\/name\/extra": repo ids are "name" or "org\/name"/,
      ],
      ['--hf-repo with an empty part', ['--hf-repo', 'org//name'], /^Error: Invalid --hf-repo "org\/\/name"/],
      ['--hf-repo with a path', ['--hf-repo', '../etc/passwd'], /^Error: Invalid --hf-repo "\.\.\/etc\/passwd"/],
      ['--hf-repo with a space', ['--hf-repo', 'a b/c'], /^Error: Invalid --hf-repo "a b\/c"/],
      ['--hf-repo empty', ['--hf-repo', ''], /^Error: Invalid --hf-repo "": the repo id is empty/],
      [
        '--target-repo with uppercase',
        ['--target-repo', 'Models/Tiny'],
        /^Error: Invalid --target-repo "Models\/Tiny": repository names must be lowercase.*"models\/tiny"/,
      ],
      ['--target-repo with an empty component', ['--target-repo', 'a//b'], /^Error: Invalid --target-repo "a\/\/b".*"a\/b"/],
      ['--target-tag with a space', ['--target-tag', 'bad tag'], /^Error: Invalid --target-tag "bad tag"/],
      ['--target-tag starting with "-"', ['--target-tag', '-lead'], /^Error: Invalid --target-tag "-lead"/],
      ['--target-tag of 129 characters', ['--target-tag', 'x'.repeat(129)], /^Error: Invalid --target-tag .*at most 128 characters/],
      ['--also-tag list with a bad tag', ['--also-tag', 'ok,bad tag'], /^Error: Invalid --also-tag "bad tag"/],
      ['--also-tag starting with "."', ['--also-tag', 'v1', '--also-tag', '.dot'], /^Error: Invalid --also-tag "\.dot"/],
      ['--workers 0', ['--workers', '0'], /^Error: --workers must be a whole number from 1 to 8 \(got 0\)/],
      ['--workers 9', ['--workers', '9'], /^Error: --workers must be a whole number from 1 to 8 \(got 9\)/],
      ['--chunk-mib 0', ['--chunk-mib', '0'], /^Error: --chunk-mib must be a whole number .* \(got 0\)/],
      [
        '--registry with credentials',
        ['--registry', 'alice:hunter2@127.0.0.1:5000'],
        /^Error: Invalid --registry "\*\*\*@127\.0\.0\.1:5000": credentials do not belong/,
      ],
      [
        '--registry with a path',
        ['--registry', '127.0.0.1:9/models'],
        /^Error: Invalid --registry "127\.0\.0\.1:9\/models": the registry is host\[:port\] without a path/,
      ],
      ['--registry with a bad port', ['--registry', '127.0.0.1:99999'], /^Error: Invalid --registry "127\.0\.0\.1:99999": port/],
    ]
    for (const [what, extra, want] of cases) {
      it(what, async () => {
        const flags = new Map<string, string>([
          ['--hf-repo', 'acme/good'],
          ['--registry', '127.0.0.1:9'],
          ['--target-repo', 'hostile/flags'],
        ])
        const rest: string[] = []
        for (let i = 0; i < extra.length; i += 2) {
          if (flags.has(extra[i])) flags.set(extra[i], extra[i + 1])
          else rest.push(extra[i], extra[i + 1])
        }
        const db = state()
        const before = hub.requests.length
        const res = await runCli([...nowhere, ...[...flags].flat(), ...rest], {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db})
        const line = expectRefused(res, want, {code: 2, only: true})
        expect(line).to.not.include('hunter2')
        expect(existsSync(db), 'no state written').to.equal(false)
        expect(hub.requests.length, 'the Hub was not even asked').to.equal(before)
      })
    }

    it('--include with a reversed bracket range', async () => {
      const res = await runCli(
        [...nowhere, '--hf-repo', 'acme/good', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--include', '[z-a]'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
      )
      // Python's fnmatch (which hf download uses) makes an empty range match nothing: the push matches no file.
      expectRefused(res, /^Error: .*none matched --include\/--exclude/, {code: 2, only: true})
    })

    it('--registry 999.1.1.1 and an IPv6 zone id are usage errors', async () => {
      for (const registry of ['999.1.1.1', '[::1%eth0]:5000', '1.2.3.4.5']) {
        const res = await runCli([...nowhere, '--hf-repo', 'acme/good', '--target-repo', 'x/y', '--registry', registry], {
          HF_ENDPOINT: hub.endpoint,
          MODELCAR_STATE_DB: state(),
        })
        expectRefused(res, /^Error: Invalid --registry/, {code: 2, only: true})
      }
    })

    it('--registry with a password containing "/" does not echo it', async () => {
      const res = await runCli([...nowhere, '--hf-repo', 'acme/good', '--target-repo', 'x/y', '--registry', 'alice:pa/ss@127.0.0.1:5000'], {
        HF_ENDPOINT: hub.endpoint,
        MODELCAR_STATE_DB: state(),
      })
      expectRefused(res, /^Error: Invalid --registry .*credentials do not belong/, {code: 2, only: true})
      expect(res.stderr).to.not.include('pa/ss')
    })
  })

  describe('unreachable and impostor servers', () => {
    it('an unreachable registry: the error names the host', async () => {
      const db = state()
      const res = await runCli(
        ['push', '--hf-repo', 'acme/good', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--max-retries', '0'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db},
      )
      expectRefused(res, /^Error: .*127\.0\.0\.1:9\b/, {code: 1})
    })

    it('an unreachable Hub: the error names the host and HF_ENDPOINT; nothing is pushed', async () => {
      const res = await pushNothing(['--hf-repo', 'acme/good', '--target-repo', 'hostile/nohub'], {HF_ENDPOINT: 'http://127.0.0.1:9'})
      expectRefused(res, /^Error: .*Hub at 127\.0\.0\.1:9\b.*HF_ENDPOINT/, {code: 1, only: true})
    })

    it('an HTTP server that is not a registry (404 HTML on /v2/): one-line error, nothing written', async () => {
      const fake = await fakeServer((_req, res) => {
        res.writeHead(404, {'content-type': 'text/html; charset=utf-8'})
        res.end('<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>nginx</p></body></html>')
      })
      closers.push(() => fake.close())
      const res = await runCli(['push', '--hf-repo', 'acme/good', '--registry', fake.host, '--target-repo', 'x/y', '--max-retries', '0'], {
        HF_ENDPOINT: hub.endpoint,
        MODELCAR_STATE_DB: state(),
      })
      const line = expectRefused(res, /^Error: .*\b404\b/, {code: 1, only: true})
      expect(line, 'the HTML page is not dumped into the message').to.not.match(/<html|nginx/i)
      expect(fake.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).to.deep.equal([])
    })

    it('an HTTP server that is not a registry: the error names the host', async () => {
      const fake = await fakeServer((_req, res) => {
        res.writeHead(404, {'content-type': 'text/html'})
        res.end('<html>Not Found</html>')
      })
      closers.push(() => fake.close())
      const res = await runCli(['push', '--hf-repo', 'acme/good', '--registry', fake.host, '--target-repo', 'x/y', '--max-retries', '0'], {
        HF_ENDPOINT: hub.endpoint,
        MODELCAR_STATE_DB: state(),
      })
      expectRefused(res, new RegExp(`^Error: .*${fake.host.replace(/\./g, '\\.')}.*404`), {code: 1, only: true})
    })

    it('a registry whose WWW-Authenticate challenges are oddly quoted: one-line errors, no crash, no write, no echo of the password', async () => {
      const password = 'pw-Odd"Quote\\Secret'
      let challenge = ''
      const fake = await fakeServer((req, res, origin) => {
        if (req.url!.startsWith('/token')) {
          res.writeHead(200, {'content-type': 'application/json'})
          res.end(JSON.stringify({token: 'opaque-token', expires_in: 300}))
          return
        }
        res.writeHead(401, {'www-authenticate': challenge.replaceAll('ORIGIN', origin), 'content-type': 'application/json'})
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
      })
      closers.push(() => fake.close())
      // Refused credentials are the user's to fix (exit 2); a registry that cannot be answered failed the work (exit 1).
      const challenges: Array<[string, RegExp, number]> = [
        ['Bearer realm="ORIGIN/token",service="svc\\"quoted\\\\x",scope="repository:x/y:pull"', /refused the credentials/, 2],
        ['Bearer realm="ORIGIN/token,service=unterminated', /refused the credentials/, 2],
        ['Bearer realm=ORIGIN/token,service=bare,scope="repository:x/y:pull,push"', /refused the credentials/, 2],
        ['Bearer realm="ORIGIN/token" service="no-comma" scope="x"', /refused the credentials/, 2],
        ['Bearer realm=""', /bearer token without naming a realm/, 1],
        ['Bearer ,,,=== "', /bearer token without naming a realm/, 1],
        ['Basic realm="a\\"b", Basic realm=', /refused the credentials/, 2],
        ['Newfangled foo="bar', /without a Basic or Bearer challenge/, 1],
        ['', /answered 401 without a Basic or Bearer challenge/, 1],
      ]
      for (const [c, want, code] of challenges) {
        challenge = c
        const mark = fake.requests.length
        const res = await runCli(
          ['push', '--hf-repo', 'acme/good', '--registry', fake.host, '--target-repo', 'x/y', '--max-retries', '0', '--verbose'],
          {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state(), OCI_USERNAME: 'alice', OCI_PASSWORD: password},
        )
        const line = expectRefused(res, want, {code})
        expect(line, c).to.include(fake.host)
        expect(res.stderr + res.stdout, c)
          .to.not.include(password)
          .and.not.include('Secret')
        const seen = fake.requests.slice(mark)
        expect(
          seen.filter((r) => !['GET', 'HEAD'].includes(r.method)),
          c,
        ).to.deep.equal([])
        expect(seen.length, c).to.be.below(20)
        // the token request carried the service exactly as the challenge meant it
        if (c.includes('svc')) {
          const tokenReq = seen.find((r) => r.url.startsWith('/token'))!
          expect(new URL(tokenReq.url, fake.url).searchParams.get('service'), c).to.equal('svc"quoted\\x')
        }
      }
    })
  })

  describe('Hub faults the client survives: the image is still byte-exact', () => {
    it('a 200 to a Range request after a dropped connection: the file restarts and the image is correct', async () => {
      const mark = hub.requests.length
      hub.injectFault({kind: 'cut', afterBytes: 3 * MiB, origin: 'cdn'})
      hub.injectFault({kind: 'ignore-range', origin: 'cdn'})
      hub.injectFault({kind: 'cut', afterBytes: 300_000, origin: 'hub', match: (p) => p.endsWith('/tokenizer.json')})
      hub.injectFault({kind: 'ignore-range', origin: 'hub', match: (p) => p.endsWith('/tokenizer.json')})
      const res = await runCli(
        ['push', '--hf-repo', 'acme/good', '--registry', reg.host, '--target-repo', 'hostile/range200', '--chunk-mib', '2', '--verbose'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
      )
      expect(res.code, res.stderr).to.equal(0)
      expect(hub.pendingFaults(), 'every fault was hit').to.equal(0)
      const ranged = hub.requests.slice(mark).filter((r) => r.headers.range !== undefined)
      expect(
        ranged.filter((r) => r.origin === 'cdn'),
        'the CDN saw a Range request',
      ).to.not.be.empty
      expect(
        ranged.filter((r) => r.origin === 'hub'),
        'the Hub saw a Range request',
      ).to.not.be.empty
      await checkImage(`${reg.host}/hostile/range200:${GOOD_SHA.slice(0, 12)}`, GOOD_FILES)
      expect(outputValue(res.stdout, 'MANIFESTDIGEST')).to.match(/^sha256:[0-9a-f]{64}$/)
    })

    it('bodies shorter than announced (CDN and Hub): the client resumes and the image is correct', async () => {
      hub.injectFault({kind: 'wrong-length', delta: -12345, origin: 'cdn'})
      hub.injectFault({kind: 'wrong-length', delta: -1000, origin: 'hub', match: (p) => p.endsWith('/tokenizer.json')})
      const res = await runCli(
        ['push', '--hf-repo', 'acme/good', '--registry', reg.host, '--target-repo', 'hostile/short', '--chunk-mib', '4'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
      )
      expect(res.code, res.stderr).to.equal(0)
      expect(hub.pendingFaults(), 'every fault was hit').to.equal(0)
      await checkImage(`${reg.host}/hostile/short:${GOOD_SHA.slice(0, 12)}`, GOOD_FILES)
    })

    it('bodies longer than announced (CDN and Hub): the extra bytes are not pushed and the image is correct', async () => {
      hub.injectFault({kind: 'wrong-length', delta: 777, origin: 'cdn'})
      hub.injectFault({kind: 'wrong-length', delta: 4096, origin: 'hub', match: (p) => p.endsWith('/tokenizer.json')})
      const res = await runCli(
        ['push', '--hf-repo', 'acme/good', '--registry', reg.host, '--target-repo', 'hostile/long', '--chunk-mib', '4'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state()},
      )
      expect(res.code, res.stderr).to.equal(0)
      expect(hub.pendingFaults(), 'every fault was hit').to.equal(0)
      await checkImage(`${reg.host}/hostile/long:${GOOD_SHA.slice(0, 12)}`, GOOD_FILES)
    })
  })

  describe('secrets', () => {
    it('the HF token and the registry password never reach stdout/stderr (even --verbose) nor the state database', async function () {
      const basicReg = await startRegistry({auth: 'basic'})
      closers.push(() => basicReg.close())
      const bproxy = await startFaultProxy(basicReg.url)
      closers.push(() => bproxy.close())
      const password = basicReg.users.alice
      const basic = Buffer.from(`alice:${password}`).toString('base64')
      const secrets = [HF_TOKEN, password, basic]
      const dir = mkdtempSync(join(tmpdir(), 'mc-secret-state-'))
      const db = join(dir, 'state.db')
      const env = {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: db, HF_TOKEN, OCI_USERNAME: 'alice', OCI_PASSWORD: password}
      const args = [
        'push',
        '--hf-repo',
        'acme/secret',
        '--registry',
        bproxy.host,
        '--target-repo',
        'secret/model',
        '--verbose',
        '--chunk-mib',
        '2',
      ]
      const outputs: string[] = []

      // 1. a push that retries a lot (Hub 503s, a cut CDN body, registry 503s and a reset) and succeeds
      hub.injectFault({kind: 'status', status: 503, retryAfter: 0, origin: 'hub', match: (p) => p.includes('/tree/')})
      hub.injectFault({kind: 'cut', afterBytes: 1 * MiB, origin: 'cdn'})
      bproxy.injectFault({kind: 'status', status: 503, retryAfter: 0, match: (m) => m === 'PATCH', times: 2})
      bproxy.injectFault({kind: 'reset', afterBytes: 100_000, match: (m) => m === 'PATCH'})
      bproxy.injectFault({kind: 'status', status: 500, match: (m, p) => m === 'PUT' && p.includes('/manifests/')})
      const ok = await runCli(args, env)
      outputs.push(ok.stdout, ok.stderr)
      expect(ok.code, ok.stderr).to.equal(0)
      expect(hub.pendingFaults(), 'every Hub fault was hit').to.equal(0)
      expect(bproxy.pendingFaults(), 'every registry fault was hit').to.equal(0)
      expect(ok.stderr, 'retries were logged').to.match(/retry|attempt/i)

      // 2. a push that fails for good (manifest PUT refused), so an error is recorded in the state database
      bproxy.injectFault({kind: 'status', status: 500, match: (m, p) => m === 'PUT' && p.includes('/manifests/'), times: Infinity})
      const failed = await runCli([...args, '--target-tag', 'fails', '--max-retries', '1'], env)
      bproxy.clearFaults()
      outputs.push(failed.stdout, failed.stderr)
      expect(failed.code, failed.stderr).to.not.equal(0)

      // 3. wrong password, and a private repo with a wrong HF token
      const wrong = await runCli([...args, '--target-tag', 'wrong'], {...env, OCI_PASSWORD: `${password}-wrong`})
      outputs.push(wrong.stdout, wrong.stderr)
      expect(wrong.code).to.not.equal(0)
      const badHf = await runCli([...args, '--target-tag', 'badhf'], {...env, HF_TOKEN: `${HF_TOKEN}x`})
      outputs.push(badHf.stdout, badHf.stderr)
      expect(badHf.code).to.not.equal(0)

      // 4. status and list over the same database, text and JSON
      for (const cmd of [['status'], ['status', '--json'], ['list'], ['list', '--json']]) {
        const r = await runCli(cmd, env)
        outputs.push(r.stdout, r.stderr)
      }

      const text = outputs.join('\n')
      for (const s of [...secrets, `${password}-wrong`, `${HF_TOKEN}x`]) expect(text, 'printed output').to.not.include(s)
      // every file of the state database (main file, WAL, shared memory, journals)
      const files = readdirSync(dir)
      expect(files).to.include('state.db')
      for (const f of files) {
        const bytes = readFileSync(join(dir, f))
        for (const s of [...secrets, `${password}-wrong`, `${HF_TOKEN}x`]) {
          expect(bytes.includes(Buffer.from(s)), `${f} contains a secret`).to.equal(false)
          expect(bytes.includes(Buffer.from(s, 'utf16le')), `${f} contains a secret (UTF-16)`).to.equal(false)
        }
      }
      // and the image is there, byte-exact despite the faults
      await checkImage(`${bproxy.host}/secret/model:${SECRET_SHA.slice(0, 12)}`, GOOD_FILES, `alice:${password}`)
    })
  })
})
