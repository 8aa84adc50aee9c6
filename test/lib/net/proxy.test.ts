import {expect} from 'chai'
import {parseProxyUrl, proxyFor, proxySettings, redactUserinfo} from '../../../src/lib/net/proxy.js'

const via = (url: string, env: NodeJS.ProcessEnv) => proxyFor(new URL(url), proxySettings(env))?.href

describe('net/proxy: the environment read as curl reads it', () => {
  it("picks the proxy by the URL's scheme, lower case winning over upper case", () => {
    const env = {HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', HTTP_PROXY: 'http://plain:8080'}
    expect(via('https://hub.example/x', env)).to.equal('http://lower:3128/')
    expect(via('http://reg.example/x', env)).to.equal('http://plain:8080/')
    expect(via('http://reg.example/x', {HTTPS_PROXY: 'http://p:1'})).to.equal(undefined)
  })

  it('ignores the upper-case HTTP_PROXY under CGI, where a request header could set it', () => {
    expect(via('http://a.example/', {HTTP_PROXY: 'http://evil:1', REQUEST_METHOD: 'GET'})).to.equal(undefined)
    expect(via('http://a.example/', {http_proxy: 'http://ok:1', REQUEST_METHOD: 'GET'})).to.equal('http://ok:1/')
  })

  it('takes a proxy without a scheme as http://, and refuses other schemes with a one-line error', () => {
    expect(via('https://a.example/', {HTTPS_PROXY: 'proxy.corp:3128'})).to.equal('http://proxy.corp:3128/')
    expect(() => proxySettings({HTTPS_PROXY: 'socks5://u:pw@p:1080'})).to.throw(
      'HTTPS_PROXY names a socks5: proxy; modelcar speaks to http:// and https:// proxies only.',
    )
  })

  const noProxy = (list: string, url: string) =>
    via(url, {HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1', NO_PROXY: list}) === undefined

  it('NO_PROXY: host names match themselves and their subdomains, with or without a leading dot', () => {
    for (const entry of ['example.com', '.example.com', '*.example.com']) {
      expect(noProxy(entry, 'https://example.com/'), entry).to.equal(true)
      expect(noProxy(entry, 'https://reg.example.com/'), entry).to.equal(true)
      expect(noProxy(entry, 'https://notexample.com/'), entry).to.equal(false)
    }
    expect(noProxy('EXAMPLE.com', 'https://Reg.Example.COM/')).to.equal(true)
  })

  it('NO_PROXY: IP addresses, CIDR ranges (v4 and v6), ports and *', () => {
    expect(noProxy('10.1.2.3', 'http://10.1.2.3:5000/')).to.equal(true)
    expect(noProxy('10.0.0.0/8', 'http://10.200.0.1/')).to.equal(true)
    expect(noProxy('10.0.0.0/8', 'http://11.0.0.1/')).to.equal(false)
    expect(noProxy('fd00::/8', 'http://[fd12::1]:5000/')).to.equal(true)
    expect(noProxy('[::1]', 'http://[::1]:5000/')).to.equal(true)
    expect(noProxy('reg.example:5000', 'http://reg.example:5000/')).to.equal(true)
    expect(noProxy('reg.example:5000', 'http://reg.example:5001/')).to.equal(false)
    expect(noProxy('reg.example:443', 'https://reg.example/')).to.equal(true)
    expect(noProxy('*', 'https://anything.example/')).to.equal(true)
    expect(noProxy(' a.example , b.example ', 'https://b.example/')).to.equal(true)
    // A name is not resolved: an IP rule does not match a host name.
    expect(noProxy('127.0.0.0/8', 'http://localhost/')).to.equal(false)
  })

  it('never prints the credentials of a proxy URL', () => {
    expect(redactUserinfo('http://user:pw@proxy:3128')).to.equal('http://***@proxy:3128')
    expect(redactUserinfo('user:pw@proxy:3128')).to.equal('***@proxy:3128')
    expect(redactUserinfo('https://u:p@ss@host/x@y')).to.equal('https://***@host/x@y')
    expect(() => parseProxyUrl('http://user:pw@[bad', 'HTTPS_PROXY')).to.throw(/^HTTPS_PROXY is not a URL \(http:\/\/\*\*\*@\[bad\)/)
  })
})
