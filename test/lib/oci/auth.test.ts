import {expect} from 'chai'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {RegistryAuth} from '../../../src/lib/oci/auth.js'
import {parseRegistry} from '../../../src/lib/oci/reference.js'

describe('oci/auth: where credentials may go', () => {
  const cred = {kind: 'basic' as const, username: 'u', password: 'secret-pw', source: 'test'}
  const scopes = ['repository:a/b:pull,push']

  it('answers nothing before a challenge, and never to another origin', async () => {
    const auth = new RegistryAuth(parseRegistry('127.0.0.1:5000'), cred)
    expect(await auth.authorization(new URL('http://127.0.0.1:5000/v2/'), scopes)).to.equal(undefined)
    auth.challenged('Basic realm="r"', scopes)
    expect(await auth.authorization(new URL('http://127.0.0.1:5000/v2/'), scopes)).to.equal(
      `Basic ${Buffer.from('u:secret-pw').toString('base64')}`,
    )
    expect(await auth.authorization(new URL('http://127.0.0.1:6000/v2/'), scopes)).to.equal(undefined)
    expect(await auth.authorization(new URL('http://storage.example.com/blob'), scopes)).to.equal(undefined)
  })

  it('refuses a token realm on a link-local address or over plain HTTP for an HTTPS registry', async () => {
    for (const [registry, realm, why] of [
      ['127.0.0.1:5000', 'http://169.254.169.254/latest/meta-data', /link-local/],
      ['ghcr.io', 'http://ghcr.io/token', /plain HTTP/],
    ] as const) {
      const auth = new RegistryAuth(parseRegistry(registry), cred)
      auth.challenged(`Bearer realm="${realm}",service="x"`, scopes)
      const error = await auth.authorization(new URL(`${parseRegistry(registry).baseUrl}/v2/`), scopes).catch((e) => e)
      expect(error.message).to.match(why)
      expect(error.message).not.to.include('secret-pw')
    }
  })

  it('asks for credentials when the registry wants Basic and none are configured', () => {
    const auth = new RegistryAuth(parseRegistry('127.0.0.1:5000'), undefined)
    expect(() => auth.challenged('Basic realm="r"', scopes)).to.throw(/requires credentials: set OCI_USERNAME and OCI_PASSWORD/)
  })

  it('fetches one token per scope, shares it between concurrent callers, and fetches again after a 401', async () => {
    const asked: string[] = []
    const server = http.createServer((req, res) => {
      asked.push(new URL(req.url!, 'http://x').searchParams.getAll('scope').join(' '))
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({token: `t${asked.length}`, expires_in: 300}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const {port} = server.address() as AddressInfo
      const auth = new RegistryAuth(parseRegistry('127.0.0.1:5000'), cred)
      const url = new URL('http://127.0.0.1:5000/v2/a/b/blobs/uploads/')
      auth.challenged(`Bearer realm="http://127.0.0.1:${port}/token",service="reg"`, scopes)
      const first = await Promise.all([auth.authorization(url, scopes), auth.authorization(url, scopes)])
      expect(first).to.deep.equal(['Bearer t1', 'Bearer t1'])
      expect(await auth.authorization(url, scopes)).to.equal('Bearer t1')
      expect(await auth.authorization(url, ['repository:a/c:pull'])).to.equal('Bearer t2')
      auth.challenged(`Bearer realm="http://127.0.0.1:${port}/token",service="reg"`, scopes)
      expect(await auth.authorization(url, scopes)).to.equal('Bearer t3')
      expect(asked).to.deep.equal([scopes[0], 'repository:a/c:pull', scopes[0]])
      expect(auth.tokensFetched).to.equal(3)
    } finally {
      server.close()
    }
  })
})
