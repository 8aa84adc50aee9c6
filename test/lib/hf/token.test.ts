import {expect} from 'chai'
import {mkdtempSync, mkdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {UsageError} from '../../../src/lib/errors.js'
import {findHubToken, hubEndpoint} from '../../../src/lib/hf/token.js'

describe('hf/token discovery', () => {
  const home = mkdtempSync(join(tmpdir(), 'mc-home-'))
  mkdirSync(join(home, '.cache', 'huggingface'), {recursive: true})
  writeFileSync(join(home, '.cache', 'huggingface', 'token'), 'hf_fromfile\n')

  it('prefers HF_TOKEN', () => {
    expect(findHubToken({HF_TOKEN: 'hf_env'}, home)).to.deep.equal({value: 'hf_env', source: 'HF_TOKEN'})
  })
  it('falls back to ~/.cache/huggingface/token', () => {
    expect(findHubToken({}, home)?.value).to.equal('hf_fromfile')
  })
  it('honours HF_HOME and HF_TOKEN_PATH', () => {
    const hfHome = mkdtempSync(join(tmpdir(), 'mc-hfhome-'))
    writeFileSync(join(hfHome, 'token'), 'hf_home')
    expect(findHubToken({HF_HOME: hfHome}, home)?.value).to.equal('hf_home')
    const path = join(hfHome, 'other')
    writeFileSync(path, 'hf_path')
    expect(findHubToken({HF_TOKEN_PATH: path}, home)?.value).to.equal('hf_path')
  })
  it('is anonymous without a token', () => {
    expect(findHubToken({}, mkdtempSync(join(tmpdir(), 'mc-empty-')))).to.equal(undefined)
  })
  it('reads HF_ENDPOINT', () => {
    expect(hubEndpoint({}).href).to.equal('https://huggingface.co/')
    expect(hubEndpoint({HF_ENDPOINT: 'http://127.0.0.1:9/mirror/'}).href).to.equal('http://127.0.0.1:9/mirror')
    expect(() => hubEndpoint({HF_ENDPOINT: 'not a url'})).to.throw(/HF_ENDPOINT/)
  })
  it('refuses HF_ENDPOINT with credentials and never prints them', () => {
    const cases: Array<[string, string]> = [
      ['https://user:pw@mirror', 'HF_ENDPOINT must not carry credentials (https://***@mirror): put the token in HF_TOKEN.'],
      [
        'https://hf_secret@mirror.example/hub/',
        'HF_ENDPOINT must not carry credentials (https://***@mirror.example/hub): put the token in HF_TOKEN.',
      ],
      ['https://u:p%40ss@mirror:8443', 'HF_ENDPOINT must not carry credentials (https://***@mirror:8443): put the token in HF_TOKEN.'],
      ['https://u:s3cr3t@mir ror', 'HF_ENDPOINT "https://***@mir ror" is not a URL: set it to e.g. https://huggingface.co.'],
    ]
    for (const [value, message] of cases) {
      const error = catchError(() => hubEndpoint({HF_ENDPOINT: value}))
      expect(error).to.be.instanceOf(UsageError)
      expect(error).to.include({code: 'E_HF_ENDPOINT', exitCode: 2, message})
    }
  })
})

function catchError(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    return error as UsageError
  }
  throw new Error('expected an error')
}
