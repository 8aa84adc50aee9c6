// Corporate networks, for real: pushes through Debian's tinyproxy (plain HTTP
// in absolute form, HTTPS through CONNECT, Basic auth, NO_PROXY), the real
// registry serving TLS from an internal CA (trusted through certs.d and
// through NODE_EXTRA_CA_CERTS, with mutual TLS), and every misconfiguration
// ending fast with one line that names the fix.
import {expect} from 'chai'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync} from 'node:fs'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {makePki, type Pki} from '../fixtures/pki.js'
import {startTinyproxy, tinyproxyAvailable, type Tinyproxy} from '../fixtures/proxy/tinyproxy.js'
import {freePort, startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {requireTools} from '../fixtures/require-tool.js'
import {expectImageHolds, killStrayClis, outputValue, requireRealTools, runCli, startCli, tempStateDb} from './helpers.js'

const SHA = 'c0ffee0000000000000000000000000000c0ffee'
const FILES: SimFile[] = [
  {path: 'config.json', size: 0, content: Buffer.from('{"model_type":"corp"}\n')},
  {path: 'weights.safetensors', size: 3 * 1024 * 1024 + 5, lfs: true},
].map((f) => (f.content ? {...f, size: f.content.length} : f))
// Twice the memory bound below: a push that held the file would break it.
const BIG: SimFile[] = [{path: 'big.bin', size: 512 * 1024 * 1024, lfs: true}]

describe('e2e: corporate networks (proxies, internal CAs)', function () {
  this.timeout(180_000)
  let hub: HubSim
  let pki: Pki
  const closers: Array<() => Promise<void>> = []

  before(async function () {
    await requireRealTools(this)
    requireTools(this, tinyproxyAvailable(), 'tinyproxy missing: install it with `apt-get install tinyproxy`')
    pki = makePki()
    hub = await startHubSim({
      repos: [
        {id: 'corp/model', commits: [{sha: SHA, files: FILES}]},
        {id: 'corp/big', commits: [{sha: 'b'.repeat(40), files: BIG}]},
      ],
    })
  })
  afterEach(() => killStrayClis())
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined)
    await hub?.close()
  })

  async function registry(opts: Parameters<typeof startRegistry>[0] = {}): Promise<TestRegistry> {
    const r = await startRegistry(opts)
    closers.push(() => r.close())
    return r
  }
  async function proxy(opts: Parameters<typeof startTinyproxy>[0] = {}): Promise<Tinyproxy> {
    const p = await startTinyproxy(opts)
    closers.push(() => p.close())
    return p
  }
  /** A certs.d root holding `files` (name -> source path) for `host`. */
  function certsDirs(host: string, files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'mc-certsd-'))
    mkdirSync(join(root, host))
    for (const [name, source] of Object.entries(files)) copyFileSync(source, join(root, host, name))
    return root
  }
  const push = (registryArg: string, env: NodeJS.ProcessEnv, repo = 'corp/model', extra: string[] = []) =>
    runCli(['push', '--hf-repo', repo, '--registry', registryArg, '--target-repo', 'corp/m', '--max-retries', '2', ...extra], {
      HF_ENDPOINT: hub.endpoint,
      MODELCAR_STATE_DB: tempStateDb(),
      ...env,
    })
  const hubHost = () => new URL(hub.endpoint).host

  describe('through a real proxy', () => {
    it('sends every Hub, CDN and registry request through HTTP_PROXY, and verify --deep too', async () => {
      const reg = await registry()
      const p = await proxy()
      const before = hub.requests.length
      const res = await push(reg.host, {HTTP_PROXY: p.url})
      expect(res.code, res.stderr).to.equal(0)
      const seen = p.requests()
      // Every request the Hub simulator (API and CDN origins) received came through the proxy.
      const withoutQuery = (line: string) => line.replace(/\?\S*/, '')
      const hubSide = hub.requests
        .slice(before)
        .map((r) => withoutQuery(`${r.method} ${r.origin === 'hub' ? hub.endpoint : hub.cdnOrigin}${r.url}`))
      expect(hubSide.length).to.be.greaterThan(3)
      expect(
        hubSide.some((l) => l.includes(hub.cdnOrigin)),
        'the CDN was used',
      ).to.equal(true)
      for (const line of hubSide) expect(seen.map(withoutQuery), line).to.include(line)
      const registryLines = seen.filter((l) => l.includes(`http://${reg.host}/`))
      expect(registryLines.some((l) => l.startsWith('POST ') && l.includes('/blobs/uploads/'))).to.equal(true)
      expect(registryLines.some((l) => l.startsWith('PUT ') && l.includes('/manifests/'))).to.equal(true)
      await expectImageHolds(`${reg.host}/corp/m@${outputValue(res.stdout, 'MANIFESTDIGEST')}`, FILES)

      const count = seen.length
      const verify = await runCli(['verify', `${reg.host}/corp/m@${outputValue(res.stdout, 'MANIFESTDIGEST')}`, '--deep'], {
        HTTP_PROXY: p.url,
      })
      expect(verify.code, verify.stderr + verify.stdout).to.equal(0)
      const blobGets = p
        .requests()
        .slice(count)
        .filter((l) => l.startsWith('GET ') && l.includes('/blobs/sha256:'))
      expect(blobGets.length, 'verify --deep read every layer through the proxy').to.be.at.least(FILES.length)
    })

    it('honours NO_PROXY: the registry goes direct while the Hub goes through', async () => {
      const reg = await registry()
      const p = await proxy()
      const res = await push(reg.host, {http_proxy: p.url, no_proxy: `example.com,${reg.host}`})
      expect(res.code, res.stderr).to.equal(0)
      expect(p.requests().some((l) => l.includes(hubHost()))).to.equal(true)
      expect(p.requests().filter((l) => l.includes(reg.host))).to.deep.equal([])
    })

    it('authenticates to a proxy with the credentials in its URL, and never prints them', async () => {
      const reg = await registry()
      const p = await proxy({basicAuth: {user: 'corp', password: 'proxy-secret-pw'}})
      const res = await push(reg.host, {HTTP_PROXY: `http://corp:proxy-secret-pw@127.0.0.1:${p.port}`}, 'corp/model', ['--verbose'])
      expect(res.code, res.stderr).to.equal(0)
      expect(res.stderr + res.stdout).not.to.include('proxy-secret-pw')
      expect(res.stderr, '--verbose says how each origin is reached').to.include(`through proxy http://***@127.0.0.1:${p.port}`)
      expect(p.requests().length).to.be.greaterThan(3)
    })

    it('names the proxy and its 407 in one line, at once, when it wants credentials', async () => {
      const reg = await registry()
      const p = await proxy({basicAuth: {user: 'corp', password: 'proxy-secret-pw'}})
      const started = Date.now()
      const res = await push(reg.host, {HTTP_PROXY: p.url})
      expect(Date.now() - started).to.be.below(5000)
      expect(res.code).to.equal(1)
      expect(res.stderr.trim()).to.equal(
        `Error: the proxy http://127.0.0.1:${p.port} refused the connection to ${hubHost()} (HTTP 407 Proxy Authentication Required): ` +
          'check the user and password in HTTPS_PROXY/HTTP_PROXY (http://USER:PASSWORD@HOST:PORT).',
      )
    })

    it('reaches a TLS registry through CONNECT, trusting its internal CA from certs.d', async () => {
      const reg = await registry({tls: {certificate: pki.server.cert, key: pki.server.key}})
      const p = await proxy({basicAuth: {user: 'corp', password: 'proxy-secret-pw'}})
      const proxyUrl = `http://corp:proxy-secret-pw@127.0.0.1:${p.port}`
      const res = await push(`https://${reg.host}`, {
        HTTPS_PROXY: proxyUrl,
        HTTP_PROXY: proxyUrl,
        MODELCAR_CERTS_DIRS: certsDirs(reg.host, {'ca.crt': pki.ca}),
      })
      expect(res.code, res.stderr).to.equal(0)
      expect(p.requests()).to.include(`CONNECT ${reg.host}`)
      expect(
        p.requests().filter((l) => l.includes(`http://${reg.host}`)),
        'nothing to the TLS registry in clear',
      ).to.deep.equal([])
      const tunnels = p.requests().length
      const env = {HTTPS_PROXY: proxyUrl, MODELCAR_CERTS_DIRS: certsDirs(reg.host, {'ca.crt': pki.ca})}
      const verify = await runCli(['verify', `https://${reg.host}/corp/m@${outputValue(res.stdout, 'MANIFESTDIGEST')}`, '--deep'], env)
      expect(verify.code, verify.stderr + verify.stdout).to.equal(0)
      expect(p.requests().slice(tunnels), 'verify --deep tunnels through the proxy too').to.include(`CONNECT ${reg.host}`)
    })

    it('keeps memory bounded through the proxy (a 512 MiB file, one worker, under 256 MiB)', async () => {
      const reg = await registry()
      const p = await proxy()
      const {child, done} = startCli(
        ['push', '--hf-repo', 'corp/big', '--registry', reg.host, '--target-repo', 'corp/big', '--workers', '1'],
        {HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: tempStateDb(), HTTP_PROXY: p.url},
      )
      let peakKiB = 0
      const timer = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
          if (m) peakKiB = Math.max(peakKiB, Number(m[1]))
        } catch {
          // exited
        }
      }, 50)
      const res = await done
      clearInterval(timer)
      expect(res.code, res.stderr).to.equal(0)
      expect(p.requests().some((l) => l.includes('/resolve/'))).to.equal(true)
      expect(peakKiB, 'peak RSS of the CLI')
        .to.be.above(0)
        .and.below(256 * 1024)
    })
  })

  describe('a registry behind an internal CA', () => {
    it('is trusted through the containers certs.d layout, for push and verify --deep', async () => {
      const reg = await registry({tls: {certificate: pki.server.cert, key: pki.server.key}})
      const env = {MODELCAR_CERTS_DIRS: certsDirs(reg.host, {'ca.crt': pki.ca})}
      const res = await push(`https://${reg.host}`, env)
      expect(res.code, res.stderr).to.equal(0)
      const verify = await runCli(['verify', `https://${reg.host}/corp/m@${outputValue(res.stdout, 'MANIFESTDIGEST')}`, '--deep'], env)
      expect(verify.code, verify.stderr + verify.stdout).to.equal(0)
    })

    it('is trusted through NODE_EXTRA_CA_CERTS', async () => {
      const reg = await registry({tls: {certificate: pki.server.cert, key: pki.server.key}})
      const res = await push(`https://${reg.host}`, {NODE_EXTRA_CA_CERTS: pki.ca})
      expect(res.code, res.stderr).to.equal(0)
    })

    it('presents the client certificate from certs.d to a registry that demands mutual TLS', async () => {
      const reg = await registry({tls: {certificate: pki.server.cert, key: pki.server.key, clientCas: [pki.clientCa]}})
      const withCert = certsDirs(reg.host, {'ca.crt': pki.ca, 'client.cert': pki.client.cert, 'client.key': pki.client.key})
      const res = await push(`https://${reg.host}`, {MODELCAR_CERTS_DIRS: withCert})
      expect(res.code, res.stderr).to.equal(0)
      const without = await push(`https://${reg.host}`, {MODELCAR_CERTS_DIRS: certsDirs(reg.host, {'ca.crt': pki.ca})})
      expect(without.code).to.equal(1)
      expect(without.stderr.trim()).to.match(
        new RegExp(
          `^Error: ${reg.host.replaceAll('.', '\\.')} demands a client certificate it trusts \\([^)]*\\): ` +
            `put client\\.cert and client\\.key in /etc/containers/certs\\.d/${reg.host.replaceAll('.', '\\.')}/\\.$`,
        ),
      )
    })
  })

  describe('--tls-verify=false', () => {
    it('pushes to a registry with a self-signed certificate, warning once on stderr', async () => {
      const reg = await registry({tls: {certificate: pki.selfSigned.cert, key: pki.selfSigned.key}})
      const res = await push(`https://${reg.host}`, {}, 'corp/model', ['--tls-verify=false'])
      expect(res.code, res.stderr).to.equal(0)
      expect(res.stderr.match(/^warning: --tls-verify=false: the registry's certificate is not checked/gm)).to.have.length(1)
    })

    it('never turns certificate checks off for the Hub', async () => {
      const reg = await registry({tls: {certificate: pki.selfSigned.cert, key: pki.selfSigned.key}})
      const fakeHub = https.createServer({cert: readFileSync(pki.selfSigned.cert), key: readFileSync(pki.selfSigned.key)}, (_req, res) => {
        res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({sha: SHA}))
      })
      await new Promise<void>((r) => fakeHub.listen(0, '127.0.0.1', r))
      closers.push(() => new Promise((r) => fakeHub.close(() => r())))
      const hubAt = `127.0.0.1:${(fakeHub.address() as AddressInfo).port}`
      const res = await push(`https://${reg.host}`, {HF_ENDPOINT: `https://${hubAt}`}, 'corp/model', ['--tls-verify=false'])
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include(`Error: the certificate of ${hubAt} is not trusted`)
    })
  })

  describe('misconfigurations end in under two seconds with the fix', () => {
    async function fails(registryArg: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
      const started = Date.now()
      const res = await push(registryArg, env)
      const elapsed = Date.now() - started
      expect(res.code, res.stderr).to.equal(1)
      expect(res.stderr.trim().split('\n'), res.stderr).to.have.length(1)
      expect(elapsed, `took ${elapsed} ms: ${res.stderr}`).to.be.below(2000)
      return res.stderr.trim()
    }

    it('a plain-HTTP registry addressed as HTTPS', async () => {
      const reg = await registry()
      expect(await fails(`https://${reg.host}`)).to.equal(
        `Error: ${reg.host} speaks plain HTTP, not HTTPS: use --registry http://${reg.host}`,
      )
    })

    it('a certificate from a CA nobody trusts: names the host and the issuer', async () => {
      const reg = await registry({tls: {certificate: pki.server.cert, key: pki.server.key}})
      expect(await fails(`https://${reg.host}`)).to.equal(
        `Error: the certificate of ${reg.host} is not trusted (unable to verify leaf signature, ` +
          `issued by "modelcar test internal CA"): add its CA to a PEM file named by NODE_EXTRA_CA_CERTS or to /etc/containers/certs.d/${reg.host}/ca.crt ` +
          '(or use --tls-verify=false for a self-signed test registry)',
      )
    })

    it('a certificate issued for another name', async () => {
      const reg = await registry({tls: {certificate: pki.wrongName.cert, key: pki.wrongName.key}})
      expect(await fails(`https://${reg.host}`, {NODE_EXTRA_CA_CERTS: pki.ca})).to.equal(
        `Error: the certificate of ${reg.host} is not issued for 127.0.0.1 (it names DNS:registry.internal): address it by a name its certificate lists.`,
      )
    })

    it('an expired certificate', async () => {
      const reg = await registry({tls: {certificate: pki.expired.cert, key: pki.expired.key}})
      expect(await fails(`https://${reg.host}`, {NODE_EXTRA_CA_CERTS: pki.ca})).to.equal(
        `Error: the certificate of ${reg.host} has expired: renew it on the server (or check this machine's clock).`,
      )
    })

    it('nothing listening on the port', async () => {
      const port = await freePort()
      expect(await fails(`127.0.0.1:${port}`)).to.equal(
        `Error: nothing listens on 127.0.0.1:${port}; is the registry running and the port right?`,
      )
    })

    it('a host name that does not resolve', async () => {
      expect(await fails('no-such-registry.invalid:5000')).to.equal(
        'Error: cannot resolve the host name no-such-registry.invalid: check --registry and the network',
      )
    })
  })
})
