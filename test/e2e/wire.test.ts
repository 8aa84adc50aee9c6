// Trust nothing that crosses the wire: a Hub and registry fronts that lie on
// purpose, one lie per test, each failing (or warning) as it must, with
// nothing wrong tagged and every process bounded.
import {expect} from 'chai'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {readFileSync} from 'node:fs'
import {gitBlobId, startHostileHub, treeEntries, type HostileFile, type HostileHub} from '../fixtures/hostile-hub.js'
import {makePki, type Pki} from '../fixtures/pki.js'
import {listenLoopback, stripHopByHop} from '../fixtures/registry/proxy-kit.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {killStrayClis, requireRealTools, runCli, tempStateDb} from './helpers.js'

const SHA = '1'.repeat(40)
const CONFIG = Buffer.from('{"model_type":"wire"}\n')

describe('e2e: what crosses the wire is checked', function () {
  this.timeout(120_000)
  let reg: TestRegistry
  let pki: Pki
  const closers: Array<() => Promise<void>> = []

  before(async function () {
    await requireRealTools(this)
    reg = await startRegistry()
    pki = makePki()
  })
  afterEach(async () => {
    killStrayClis()
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined)
  })
  after(async () => reg?.close())

  async function hub(files: HostileFile[], extra: Partial<Parameters<typeof startHostileHub>[0]> = {}): Promise<HostileHub> {
    const h = await startHostileHub({repo: 'acme/m', sha: SHA, files, ...extra})
    closers.push(() => h.close())
    return h
  }
  let pushes = 0
  let tag = ''
  /** Each push tags its own tag, so no test sees another's manifest. */
  const push = (endpoint: string, registry = reg.host, extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    tag = `t${++pushes}`
    return runCli(
      [
        'push',
        '--hf-repo',
        'acme/m',
        '--registry',
        registry,
        '--target-repo',
        'wire/m',
        '--target-tag',
        tag,
        '--max-retries',
        '1',
        ...extra,
      ],
      {HF_ENDPOINT: endpoint, MODELCAR_STATE_DB: tempStateDb(), ...env},
    )
  }
  async function manifestStatus(): Promise<number> {
    const res = await fetch(`${reg.url}/v2/wire/m/manifests/${tag}`, {
      method: 'HEAD',
      headers: {accept: 'application/vnd.oci.image.manifest.v1+json'},
    })
    return res.status
  }

  describe('the bytes of every file', () => {
    it('refuses a body longer than the listing (no Content-Length), and tags nothing', async () => {
      const content = Buffer.alloc(50, 97)
      const h = await hub([
        {path: 'config.json', content: CONFIG},
        {path: 'small.txt', content, served: Buffer.concat([content, content]), chunked: true},
      ])
      const res = await push(h.endpoint)
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include('The Hub sent small.txt with more bytes than the 50 its listing gives')
      expect(await manifestStatus()).to.equal(404)
    })

    it('proves files outside LFS by their git blob id: one flipped byte of the right length is refused', async () => {
      const content = Buffer.from('{"vocab_size": 32000, "hidden": 64}\n')
      const flipped = Buffer.from(content)
      flipped[5] ^= 1
      const h = await hub([
        {path: 'config.json', content: CONFIG},
        {path: 'tokenizer.json', content, served: flipped},
      ])
      const res = await push(h.endpoint)
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include(
        `tokenizer.json: git blob id ${gitBlobId(flipped)} does not match the Hub's listing (${gitBlobId(content)}); the file was not pushed.`,
      )
      expect(await manifestStatus()).to.equal(404)
    })
  })

  describe("the Hub's JSON calls obey the download rules", () => {
    async function httpsHub(handler: http.RequestListener): Promise<string> {
      const server = https.createServer({cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key)}, handler)
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      closers.push(() => new Promise((r) => server.close(() => r())))
      return `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    }

    it('refuses a revision answer redirected from HTTPS to plain HTTP, and asks nothing of the plain host', async () => {
      const plain = await hub([{path: 'config.json', content: CONFIG}])
      const endpoint = await httpsHub((_req, res) =>
        res.writeHead(302, {location: `${plain.endpoint}/api/models/acme/m/revision/main`}).end(),
      )
      const res = await push(endpoint, reg.host, [], {NODE_EXTRA_CA_CERTS: pki.ca})
      expect(res.code).to.equal(1)
      expect(res.stderr.trim()).to.match(
        /^Error: revision main of acme\/m: the Hub redirected from HTTPS to plain HTTP \(127\.0\.0\.1:\d+\); refusing\.$/,
      )
      expect(plain.paths).to.deep.equal([])
    })

    it('refuses a redirect to a file: URL with one line, not a TypeError', async () => {
      const h = await hub([], {revision: (res) => res.writeHead(302, {location: 'file:///etc/passwd'}).end()})
      const res = await push(h.endpoint)
      expect(res.code).to.equal(1)
      expect(res.stderr.trim()).to.equal(
        'Error: revision main of acme/m: the Hub redirected to a file: URL; only http and https are followed.',
      )
    })

    it('drops the token for the rest of a chain that bounced through the CDN back to the Hub', async () => {
      const auth: Record<string, string | undefined> = {}
      let cdn = ''
      let hubBase = ''
      const content = Buffer.from('weights')
      const cdnServer = http.createServer((req, res) => {
        auth[`cdn ${req.url}`] = req.headers.authorization
        res.writeHead(302, {location: `${hubBase}/bounced/w.bin`}).end()
      })
      await new Promise<void>((r) => cdnServer.listen(0, '127.0.0.1', r))
      closers.push(() => new Promise((r) => cdnServer.close(() => r())))
      cdn = `http://127.0.0.1:${(cdnServer.address() as AddressInfo).port}`
      const files = [{path: 'w.bin', content}]
      const hubServer = http.createServer((req, res) => {
        auth[`hub ${req.url}`] = req.headers.authorization
        if (req.url === '/api/models/acme/m/revision/main') return res.end(JSON.stringify({sha: SHA}))
        if (req.url?.startsWith('/api/models/acme/m/tree/')) return res.end(JSON.stringify(treeEntries(files)))
        if (req.url === `/acme/m/resolve/${SHA}/w.bin`) return res.writeHead(302, {location: `${cdn}/object`}).end()
        if (req.url === '/bounced/w.bin') return res.writeHead(200, {'content-length': content.length}).end(content)
        res.writeHead(404).end()
      })
      await new Promise<void>((r) => hubServer.listen(0, '127.0.0.1', r))
      closers.push(() => new Promise((r) => hubServer.close(() => r())))
      hubBase = `http://127.0.0.1:${(hubServer.address() as AddressInfo).port}`
      const res = await push(hubBase, reg.host, [], {HF_TOKEN: 'hf_bounceSecret'})
      expect(res.code, res.stderr).to.equal(0)
      expect(auth[`hub /acme/m/resolve/${SHA}/w.bin`]).to.equal('Bearer hf_bounceSecret')
      expect(auth['cdn /object']).to.equal(undefined)
      expect(auth['hub /bounced/w.bin'], 'no token after the chain left the Hub').to.equal(undefined)
    })
  })

  describe('listings are bounded while they are read', () => {
    it('stops at a page that links back to one already read', async () => {
      const h = await hub([], {
        tree: (_req, res, base) => {
          res.writeHead(200, {
            'content-type': 'application/json',
            link: `<${base}/api/models/acme/m/tree/${SHA}?recursive=true&expand=false>; rel="next"`,
          })
          res.end(JSON.stringify(treeEntries([{path: 'a.txt', content: CONFIG}])))
        },
      })
      const res = await push(h.endpoint, reg.host, ['--dry-run'])
      expect(res.code).to.equal(1)
      expect(res.stderr.trim()).to.equal("Error: The Hub's file listing of acme/m links back to a page it already sent: check HF_ENDPOINT.")
      expect(
        h.paths.filter((p) => p.includes('/tree/')),
        'no page is asked for twice',
      ).to.have.length(1)
    })

    it('stops a listing that never ends at 100,000 entries', async () => {
      const page = JSON.stringify(Array.from({length: 1000}, (_, i) => ({type: 'file', path: `f${i}`, size: 1, oid: '0'.repeat(40)})))
      let n = 0
      const h = await hub([], {
        tree: (_req, res, base) => {
          res.writeHead(200, {
            'content-type': 'application/json',
            link: `<${base}/api/models/acme/m/tree/${SHA}?cursor=${++n}>; rel="next"`,
          })
          res.end(page)
        },
      })
      const res = await push(h.endpoint, reg.host, ['--dry-run'])
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include('has more than 100000 entries')
      expect(n).to.equal(101)
    })

    it('refuses a page over its byte limit without Content-Length', async () => {
      const h = await hub([], {
        tree: (_req, res) => {
          res.writeHead(200, {'content-type': 'application/json'})
          const chunk = Buffer.alloc(1 << 20, 32)
          let sent = 0
          const more = () => {
            while (sent < 40 && res.write(chunk)) sent++
            if (sent < 40) res.once('drain', more)
            else res.end('[]')
          }
          res.on('error', () => undefined)
          more()
        },
      })
      const res = await push(h.endpoint, reg.host, ['--dry-run'])
      expect(res.code).to.equal(1)
      expect(res.stderr.trim()).to.equal(
        `Error: file listing of acme/m: the Hub sent more than ${16 << 20} bytes, over the limit for this answer; refusing it.`,
      )
    })

    it('refuses a file size no registry could take', async () => {
      const h = await hub([{path: 'huge.bin', content: CONFIG, listedSize: 2 ** 45}])
      const res = await push(h.endpoint, reg.host, ['--dry-run'])
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include(`listed "huge.bin" at ${2 ** 45} bytes, more than any registry accepts in one layer (1 TiB)`)
    })
  })

  it('warns in the plan about names that do not read as they are', async () => {
    const h = await hub([
      {path: 'model.safetensors', content: CONFIG},
      {path: 'model\u200b.safetensors', content: CONFIG},
      {path: 'invoice\u202Etxt.exe', content: CONFIG},
    ])
    const res = await push(h.endpoint, reg.host, ['--dry-run'])
    expect(res.code, res.stderr).to.equal(0)
    const out = res.stdout + res.stderr
    expect(out).to.include(
      'warning: "model\\u200b.safetensors" contains invisible or bidi characters (U+200B): its name does not read as it is',
    )
    expect(out).to.include('warning: "model\\u200b.safetensors" looks the same as "model.safetensors"')
    expect(out).to.include('warning: "invoice\\u202etxt.exe" contains invisible or bidi characters (U+202E)')
  })

  for (const realm of [
    'http://[::ffff:169.254.169.254]/latest/token',
    'http://[fd00:ec2::254]/token',
    'http://metadata.google.internal/token',
  ]) {
    it(`sends no credential to a token realm at a metadata address (${new URL(realm).hostname})`, async () => {
      const asked: string[] = []
      const fake = await listenLoopback((req, res) => {
        asked.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
        res
          .writeHead(401, {'www-authenticate': `Bearer realm="${realm}",service="x"`, 'docker-distribution-api-version': 'registry/2.0'})
          .end()
      })
      closers.push(() => new Promise((r) => fake.server.close(() => r())))
      const h = await hub([{path: 'config.json', content: CONFIG}])
      const res = await push(h.endpoint, `127.0.0.1:${fake.port}`, [], {OCI_USERNAME: 'alice', OCI_PASSWORD: 'realm-secret-pw'})
      expect(res.code).to.equal(1)
      expect(res.stderr).to.include('named a token realm at a link-local or cloud metadata address')
      expect(res.stderr).not.to.include('realm-secret-pw')
      expect(
        asked.every((line) => !line.includes('Basic')),
        'no credential went to the registry either',
      ).to.equal(true)
    })
  }

  it('resolves an upload Location against the storage host that answered, not the registry', async () => {
    // The registry's front hands upload sessions to a storage host (another
    // origin), which answers each PATCH with a relative Location.
    const seen: string[] = []
    const forward = (port: number, tag: string, rewrite: (location: string) => string) =>
      listenLoopback((req, res) => {
        seen.push(`${tag} ${req.method} ${req.url?.split('?')[0]}`)
        const up = http.request(
          {host: '127.0.0.1', port: Number(new URL(reg.url).port), method: req.method, path: req.url, headers: stripHopByHop(req.headers)},
          (answer) => {
            const headers = stripHopByHop(answer.headers)
            if (typeof headers.location === 'string') headers.location = rewrite(headers.location)
            res.writeHead(answer.statusCode ?? 502, headers)
            answer.pipe(res)
          },
        )
        req.pipe(up)
        void port
      })
    const storage = await forward(0, 'storage', (location) => new URL(location, reg.url).pathname + new URL(location, reg.url).search)
    closers.push(() => new Promise((r) => storage.server.close(() => r())))
    const front = await forward(
      0,
      'front',
      (location) => `http://127.0.0.1:${storage.port}${new URL(location, reg.url).pathname}${new URL(location, reg.url).search}`,
    )
    closers.push(() => new Promise((r) => front.server.close(() => r())))
    const h = await hub([
      {path: 'config.json', content: CONFIG},
      {path: 'w.bin', content: Buffer.alloc(3 << 20, 7)},
    ])
    const res = await push(h.endpoint, `127.0.0.1:${front.port}`, ['--upload-mode', 'chunked', '--chunk-mib', '1'])
    expect(res.code, res.stderr).to.equal(0)
    const patches = seen.filter((l) => l.includes(' PATCH '))
    expect(patches.length).to.be.at.least(3)
    expect(
      patches.every((l) => l.startsWith('storage ')),
      patches.join('\n'),
    ).to.equal(true)
  })

  it('warns when a tag no longer points at the manifest it pushed', async () => {
    // A front that reports the tag moved (as another push at the same moment would).
    const moved = `sha256:${'9'.repeat(64)}`
    const front = await listenLoopback((req, res) => {
      if (req.method === 'HEAD' && req.url === `/v2/wire/m/manifests/${tag}`) {
        return res.writeHead(200, {'docker-content-digest': moved, 'content-type': 'application/vnd.oci.image.manifest.v1+json'}).end()
      }
      const up = http.request(
        {host: '127.0.0.1', port: Number(new URL(reg.url).port), method: req.method, path: req.url, headers: stripHopByHop(req.headers)},
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, stripHopByHop(answer.headers))
          answer.pipe(res)
        },
      )
      req.pipe(up)
    })
    closers.push(() => new Promise((r) => front.server.close(() => r())))
    const h = await hub([{path: 'config.json', content: CONFIG}])
    const res = await push(h.endpoint, `127.0.0.1:${front.port}`, ['--json'])
    expect(res.code, res.stderr).to.equal(0)
    const out = JSON.parse(res.stdout)
    expect(out.warnings).to.deep.include(
      `tag ${tag} now points at ${moved}, not at this push's ${out.manifestDigest}: another push moved it; use the digest, or push again to take the tag back`,
    )
    expect(res.stderr).to.include(`warning: tag ${tag} now points at ${moved}`)
  })
})
