import {expect} from 'chai'
import {checkRepoPaths} from '../../../src/lib/hf/paths.js'
import {UsageError} from '../../../src/lib/errors.js'

describe('hf/paths: hostile listings are refused', () => {
  const bad: Array<[string[], RegExp]> = [
    [['../etc/passwd'], /segment "\.\."/],
    [['a/../../b'], /segment "\.\."/],
    [['/abs'], /absolute/],
    [['a\\b'], /backslash/],
    [['a\u0000b'], /control character/],
    [['a\nb'], /control character/],
    [['a//b'], /segment ""/],
    [['./a'], /segment "\."/],
    [['x', 'x'], /listed twice/],
    [['caf\u00e9', 'cafe\u0301'], /collides/],
    [[''], /empty/],
  ]
  for (const [paths, why] of bad) {
    it(`refuses ${JSON.stringify(paths)}`, () => {
      expect(() => checkRepoPaths(paths)).to.throw(UsageError, why)
    })
  }
  it('accepts ordinary nested and non-ASCII paths', () => {
    expect(() => checkRepoPaths(['a/b/c.bin', '模型/café.bin', 'README.md', 'README.MD'])).not.to.throw()
  })
})
