// HTTPS edge cases with a real TLS server on 127.0.0.1: an untrusted
// certificate is a one-line TLS error naming the host, and a registry or Hub
// that redirects from HTTPS to plain HTTP is refused before any credential or
// byte goes out in clear.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {makePki} from '../fixtures/pki.js'
import {killStrayClis, runCli, tempStateDb} from './helpers.js'

describe('e2e: TLS and downgrades', function () {
  this.timeout(60_000)
  const pki = makePki()
  let tlsServer: https.Server
  let plain: http.Server
  let tlsPort = 0
  let plainPort = 0
  const plainRequests: Array<{url: string; authorization?: string}> = []
  const sha = 'e'.repeat(40)

  before(async () => {
    plain = http.createServer((req, res) => {
      plainRequests.push({url: req.url ?? '', authorization: req.headers.authorization})
      res.writeHead(200, {'docker-distribution-api-version': 'registry/2.0'}).end('{}')
    })
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
    plainPort = (plain.address() as AddressInfo).port
    tlsServer = https.createServer({key: readFileSync(pki.selfSigned.key), cert: readFileSync(pki.selfSigned.cert)}, (req, res) => {
      const url = req.url ?? ''
      if (url === '/v2/') return res.writeHead(307, {location: `http://127.0.0.1:${plainPort}/v2/`}).end()
      if (url.startsWith('/api/models/acme/m/revision/'))
        return res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({id: 'acme/m', sha}))
      if (url.startsWith('/api/models/acme/m/tree/'))
        return res
          .writeHead(200, {'content-type': 'application/json'})
          .end(JSON.stringify([{type: 'file', path: 'w.bin', size: 4, oid: 'x'}]))
      if (url.startsWith('/acme/m/resolve/')) return res.writeHead(302, {location: `http://127.0.0.1:${plainPort}/cdn/w.bin`}).end()
      res.writeHead(404).end()
    })
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r))
    tlsPort = (tlsServer.address() as AddressInfo).port
  })
  afterEach(() => killStrayClis())
  after(async () => {
    await new Promise((r) => tlsServer?.close(r))
    await new Promise((r) => plain?.close(r))
  })

  const state = tempStateDb

  it('an untrusted certificate is a one-line TLS error that names the host', async () => {
    const res = await runCli(
      ['push', '--hf-repo', 'acme/m', '--registry', `https://127.0.0.1:${tlsPort}`, '--target-repo', 'x/y', '--max-retries', '0'],
      {HF_ENDPOINT: `https://127.0.0.1:${tlsPort}`, MODELCAR_STATE_DB: state()},
    )
    expect(res.code).to.equal(1)
    expect(res.stderr.trim().split('\n')).to.have.length(1)
    expect(res.stderr.trim()).to.match(
      new RegExp(
        `^Error: the certificate of 127\\.0\\.0\\.1:${tlsPort} is not trusted \\(depth zero self signed cert, issued by "127\\.0\\.0\\.1"\\): add its CA to a PEM file named by NODE_EXTRA_CA_CERTS$`,
      ),
    )
  })

  it('a registry that redirects from HTTPS to plain HTTP is refused, and no credential goes out in clear', async () => {
    const res = await runCli(['push', '--hf-repo', 'acme/m', '--registry', `https://127.0.0.1:${tlsPort}`, '--target-repo', 'x/y'], {
      HF_ENDPOINT: `https://127.0.0.1:${tlsPort}`,
      NODE_EXTRA_CA_CERTS: pki.selfSigned.cert,
      MODELCAR_STATE_DB: state(),
      OCI_USERNAME: 'alice',
      OCI_PASSWORD: 'cleartext-pw',
    })
    expect(res.code, res.stderr).to.equal(1)
    expect(res.stderr.trim()).to.match(
      /^Error: registry check: the registry redirected from HTTPS to plain HTTP \(127\.0\.0\.1:\d+\); refusing\.$/,
    )
    expect(plainRequests.filter((r) => r.url === '/v2/')).to.have.length(0)
  })

  it('a Hub that redirects a download from HTTPS to plain HTTP is refused', async () => {
    const res = await runCli(['push', '--hf-repo', 'acme/m', '--registry', '127.0.0.1:9', '--target-repo', 'x/y', '--dry-run'], {
      HF_ENDPOINT: `https://127.0.0.1:${tlsPort}`,
      NODE_EXTRA_CA_CERTS: pki.selfSigned.cert,
      MODELCAR_STATE_DB: state(),
    })
    // --dry-run lists without downloading: it works over HTTPS.
    expect(res.code, res.stderr).to.equal(0)
    const reg = http.createServer((req, res2) => {
      if (req.url === '/v2/') return res2.writeHead(200, {'docker-distribution-api-version': 'registry/2.0'}).end('{}')
      if (req.method === 'POST') return res2.writeHead(202, {location: '/v2/x/y/blobs/uploads/u1'}).end()
      res2.writeHead(202).end()
    })
    await new Promise<void>((r) => reg.listen(0, '127.0.0.1', r))
    try {
      const push = await runCli(
        [
          'push',
          '--hf-repo',
          'acme/m',
          '--registry',
          `127.0.0.1:${(reg.address() as AddressInfo).port}`,
          '--target-repo',
          'x/y',
          '--max-retries',
          '0',
        ],
        {
          HF_ENDPOINT: `https://127.0.0.1:${tlsPort}`,
          NODE_EXTRA_CA_CERTS: pki.selfSigned.cert,
          MODELCAR_STATE_DB: state(),
          HF_TOKEN: 'hf_cleartext_token',
        },
      )
      expect(push.code).to.not.equal(0)
      expect(push.stderr).to.match(/w\.bin: the Hub redirected from HTTPS to plain HTTP \(127\.0\.0\.1:\d+\); refusing\./)
      expect(plainRequests.filter((r) => r.url.startsWith('/cdn/'))).to.have.length(0)
    } finally {
      await new Promise((r) => reg.close(r))
    }
  })
})
