import {expect} from 'chai'
import {usageError} from '../usage-error.js'

import {validateHfRepo} from '../../../src/lib/hf/repo.js'

describe('hf/repo validateHfRepo', () => {
  const valid = [
    'gpt2',
    'openai-community/gpt2',
    'meta-llama/Llama-3.1-8B-Instruct',
    'Qwen/Qwen2.5-0.5B',
    'a/b',
    '_x/y_',
    'user/model.v2',
    'org/' + 'n'.repeat(96),
    'x1',
  ]
  for (const id of valid) {
    it(`accepts ${JSON.stringify(id.length > 40 ? `${id.slice(0, 14)}…` : id)}`, () => {
      expect(validateHfRepo(id)).to.equal(id)
    })
  }

  const example = 'pass "org/name" as shown on huggingface.co, e.g. "openai-community/gpt2"'
  const bad: Array<[string, string]> = [
    ['', `Invalid --hf-repo "": the repo id is empty; ${example}.`],
    ['a/b/c', `Invalid --hf-repo "a/b/c": repo ids are "name" or "org/name"; ${example}.`],
    ['models/org/name', 'Invalid --hf-repo "models/org/name": repo ids are "name" or "org/name"; try "org/name".'],
    [
      'datasets/org/name',
      `Invalid --hf-repo "datasets/org/name": "datasets/" repos are not models; only model repos are supported; ${example}.`,
    ],
    [
      'https://huggingface.co/org/name',
      'Invalid --hf-repo "https://huggingface.co/org/name": that is a URL, not a repo id; try "org/name".',
    ],
    [
      'https://huggingface.co/org/name/tree/main',
      'Invalid --hf-repo "https://huggingface.co/org/name/tree/main": that is a URL, not a repo id; try "org/name".',
    ],
    ['hf.co/org/name', 'Invalid --hf-repo "hf.co/org/name": that is a URL, not a repo id; try "org/name".'],
    [
      'https://huggingface.co/datasets/org/name',
      `Invalid --hf-repo "https://huggingface.co/datasets/org/name": that is a URL of datasets, not of a model; only model repos are supported; ${example}.`,
    ],
    ['org/', `Invalid --hf-repo "org/": the org or the name is empty; ${example}.`],
    ['/name', `Invalid --hf-repo "/name": the org or the name is empty; ${example}.`],
    ['org/my model', 'Invalid --hf-repo "org/my model": repo ids may only use letters, digits, "-", "_" and "."; try "org/my-model".'],
    ['org/modèle', `Invalid --hf-repo "org/modèle": repo ids may only use letters, digits, "-", "_" and "."; try "org/mod-le".`],
    ['org/a--b', `Invalid --hf-repo "org/a--b": repo ids cannot contain "--" or ".."; ${example}.`],
    ['org/a..b', `Invalid --hf-repo "org/a..b": repo ids cannot contain "--" or ".."; ${example}.`],
    ['-org/name', `Invalid --hf-repo "-org/name": "-org" cannot start or end with "-" or "."; ${example}.`],
    ['org/name.', `Invalid --hf-repo "org/name.": "name." cannot start or end with "-" or "."; ${example}.`],
    ['org/.name', `Invalid --hf-repo "org/.name": ".name" cannot start or end with "-" or "."; ${example}.`],
    ['org/name.git', 'Invalid --hf-repo "org/name.git": repo ids cannot end with ".git"; try "org/name".'],
    [
      'org/' + 'n'.repeat(97),
      `Invalid --hf-repo "org/${'n'.repeat(97)}": the name is 97 characters, over the 96-character limit; ${example}.`,
    ],
  ]
  for (const [id, message] of bad) {
    it(`rejects ${JSON.stringify(id.length > 40 ? `${id.slice(0, 14)}…` : id)}`, () => {
      expect(usageError(() => validateHfRepo(id)).message).to.equal(message)
    })
  }

  it('uses the flag it is given', () => {
    expect(usageError(() => validateHfRepo('a/b/c', '--model')).message).to.match(/^Invalid --model "a\/b\/c": /)
  })
})
