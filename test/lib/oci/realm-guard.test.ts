import {expect} from 'chai'
import {isForbiddenAddress} from '../../../src/lib/net/forbidden-addresses.js'
import {checkRealmAddress} from '../../../src/lib/oci/realm-guard.js'

describe('oci/realm-guard', () => {
  it('refuses link-local and metadata addresses in every spelling, and only those', () => {
    for (const bad of ['169.254.169.254', '::ffff:169.254.169.254', '[::ffff:a9fe:a9fe]', 'fd00:ec2::254', 'fe80::1', '100.100.100.200']) {
      expect(isForbiddenAddress(bad), bad).to.equal(true)
    }
    for (const good of ['127.0.0.1', '10.0.0.1', '::1', '2001:db8::1', '::ffff:8.8.8.8', 'auth.docker.io']) {
      expect(isForbiddenAddress(good), good).to.equal(false)
    }
  })

  it('decides on what the realm resolves to, before any credential is sent', async () => {
    const resolveTo = (address: string) => async () => [{address, family: address.includes(':') ? 6 : 4}]
    const check = (realm: string, address: string) => checkRealmAddress(new URL(realm), 'reg.example', resolveTo(address) as never)
    await check('https://auth.example/token', '203.0.113.7')
    const error = await check('https://innocent.example/token', '169.254.169.254').catch((e) => e)
    expect(error.message).to.equal(
      'Registry reg.example named a token realm at a link-local or cloud metadata address (innocent.example = 169.254.169.254); refusing to send credentials there.',
    )
    for (const realm of ['http://metadata.google.internal/token', 'http://[::ffff:169.254.169.254]/t', 'http://[fd00:ec2::254]/t']) {
      expect(await checkRealmAddress(new URL(realm), 'r', resolveTo('203.0.113.7') as never).catch((e) => e), realm).to.be.instanceOf(Error)
    }
  })
})
