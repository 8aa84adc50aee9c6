import {expect} from 'chai'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {rootCertificates} from 'node:tls'
import {certsDirs, registryTrust} from '../../../src/lib/net/trust.js'

describe('net/trust: the containers certs.d layout', () => {
  function root(host: string, files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'mc-trust-'))
    mkdirSync(join(dir, host))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, host, name), text)
    return dir
  }

  it("searches /etc/containers, the user's containers folder and /etc/docker, unless MODELCAR_CERTS_DIRS says otherwise", () => {
    expect(certsDirs({}, '/home/u')).to.deep.equal(['/etc/containers/certs.d', '/home/u/.config/containers/certs.d', '/etc/docker/certs.d'])
    expect(certsDirs({MODELCAR_CERTS_DIRS: '/a:/b'})).to.deep.equal(['/a', '/b'])
  })

  it('adds every *.crt of HOST:PORT to the default CAs and takes NAME.cert with NAME.key as the client certificate', () => {
    const a = root('reg:5000', {'ca.crt': 'CA-ONE', 'other.crt': 'CA-TWO', 'client.cert': 'CERT', 'client.key': 'KEY', 'notes.txt': 'x'})
    const b = root('reg:5000', {'third.crt': 'CA-THREE'})
    const trust = registryTrust('reg:5000', {MODELCAR_CERTS_DIRS: `${a}:${b}`})
    expect(trust.ca!.slice(-3)).to.deep.equal(['CA-ONE', 'CA-TWO', 'CA-THREE'])
    expect(trust.ca!.length).to.equal(rootCertificates.length + 3)
    expect(trust.cert!.toString()).to.equal('CERT')
    expect(trust.key!.toString()).to.equal('KEY')
    expect(registryTrust('reg:5001', {MODELCAR_CERTS_DIRS: a})).to.deep.equal({sources: []})
  })

  it('refuses a client certificate without its key, naming both files', () => {
    const dir = root('reg', {'client.cert': 'CERT'})
    expect(() => registryTrust('reg', {MODELCAR_CERTS_DIRS: dir})).to.throw(
      `${join(dir, 'reg', 'client.cert')} has no client.key beside it: a client certificate needs its key.`,
    )
  })
})
