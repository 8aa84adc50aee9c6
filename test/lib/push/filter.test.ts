import {expect} from 'chai'
import {fileFilter, matches} from '../../../src/lib/push/filter.js'
import {COMPLEXITY_BOUND_MS, timed} from '../time-bound.js'

describe('push/filter (hf download globs)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*.json', 'config.json', true],
    ['*.json', 'sub/dir/config.json', true], // fnmatch: * crosses /
    ['*.json', 'config.jsonl', false],
    ['onnx/', 'onnx/model.onnx', true],
    ['onnx/', 'other/onnx/model.onnx', false],
    ['model-0000?-of-00002.safetensors', 'model-00001-of-00002.safetensors', true],
    ['[!a]*.bin', 'b.bin', true],
    ['[!a]*.bin', 'a.bin', false],
    ['[ab].txt', 'b.txt', true],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['[unclosed', '[unclosed', true],
    ['[]]', ']', true], // Python: ']' first in a class is literal
    ['[!]]', 'x', true],
    ['[!]]', ']', false],
    ['[z-a]', 'm', false], // a reversed range is empty, not an error
    ['[!z-a]', 'm', true],
    ['[a-c-e]', '-', true],
    ['日本*', '日本語/model.bin', true],
  ]
  for (const [pattern, path, want] of cases) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${path}`, () => {
      expect(matches(pattern, path)).to.equal(want)
    })
  }

  it('keeps files matching any include and no exclude', () => {
    const keep = fileFilter(['*.json', '*.safetensors'], ['*tokenizer*'])
    expect(['config.json', 'tokenizer.json', 'model.safetensors', 'README.md'].filter(keep)).to.deep.equal([
      'config.json',
      'model.safetensors',
    ])
  })

  it('matches adversarial patterns against long paths in linear time', () => {
    const {ms} = timed(() => {
      expect(matches('*a*a*a*a*a*a*a*b', 'a'.repeat(4096))).to.equal(false)
      expect(matches('*a*a*a*a*a*a*a*b', 'a'.repeat(4096) + 'b')).to.equal(true)
    })
    // A backtracking matcher takes about 4096^7 steps here.
    expect(ms).to.be.below(COMPLEXITY_BOUND_MS)
  })

  it('keeps everything without patterns', () => {
    expect(fileFilter([], [])('anything/at/all')).to.equal(true)
  })
})
