import {expect} from 'chai'
import {UsageError} from '../../../src/lib/errors.js'
import {pushParams, type PushFlags} from '../../../src/lib/push/params.js'

const FLAGS: PushFlags = {
  'hf-repo': 'acme/tiny',
  'hf-revision': 'main',
  registry: 'localhost:5000',
  'target-repo': 'm',
  workers: 4,
  'chunk-mib': 8,
}

describe('push/params: --base-image, --platform, --modelpack', () => {
  it('leaves a plain push without any of them (its image stays FROM scratch)', () => {
    const params = pushParams(FLAGS)
    expect(params).to.not.have.any.keys('baseImage', 'platforms', 'modelpack')
  })

  it('reads comma-separated, repeated platforms', () => {
    const base = 'localhost:5000/base/busybox:1'
    const params = pushParams({...FLAGS, 'base-image': base, platform: ['linux/amd64, linux/arm64/v8'], modelpack: true})
    expect(params).to.deep.include({
      baseImage: 'localhost:5000/base/busybox:1',
      platforms: [
        {os: 'linux', architecture: 'amd64'},
        {os: 'linux', architecture: 'arm64', variant: 'v8'},
      ],
      modelpack: true,
    })
  })

  it('refuses --platform without --base-image, a malformed or repeated platform, and a bad base reference', () => {
    const refused = (flags: Partial<PushFlags>) => {
      try {
        pushParams({...FLAGS, ...flags})
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError)
        return (error as Error).message
      }
      throw new Error('accepted')
    }
    expect(refused({platform: ['linux/amd64']})).to.include('--platform needs --base-image')
    expect(refused({'base-image': 'localhost:5000/b:1', platform: ['amd64']})).to.include('os/arch[/variant]')
    expect(refused({'base-image': 'localhost:5000/b:1', platform: ['linux/amd64', 'linux/amd64']})).to.include('twice')
    expect(refused({'base-image': 'localhost:5000/b'})).to.include('names no tag or digest')
  })
})

describe('push/params: --from-image, --split-index/--split-count', () => {
  it('takes images of the same registry by tag or digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`
    const params = pushParams({...FLAGS, 'from-image': ['localhost:5000/old/model:v1', `localhost:5000/other@${digest}`]})
    expect(params.fromImages).to.deep.equal([
      {repository: 'old/model', reference: 'v1'},
      {repository: 'other', reference: digest},
    ])
    expect(pushParams(FLAGS)).to.not.have.any.keys('fromImages', 'split')
  })

  it('refuses an image on another registry: layers are mounted, never copied across registries', () => {
    expect(() => pushParams({...FLAGS, 'from-image': ['ghcr.io/old/model:v1']}))
      .to.throw(UsageError)
      .with.property('message')
      .that.matches(/^--from-image ghcr\.io\/old\/model is on another registry than --registry localhost:5000/)
  })

  it('takes a split only as a pair, within range', () => {
    expect(pushParams({...FLAGS, 'split-index': 2, 'split-count': 3}).split).to.deep.equal({index: 2, count: 3})
    expect(() => pushParams({...FLAGS, 'split-index': 1})).to.throw(UsageError, '--split-index and --split-count go together')
    expect(() => pushParams({...FLAGS, 'split-index': 3, 'split-count': 3})).to.throw(UsageError, '--split-index must be')
  })
})
