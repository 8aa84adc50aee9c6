import {expect} from 'chai'
import {mkdtempSync, mkdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
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
})
