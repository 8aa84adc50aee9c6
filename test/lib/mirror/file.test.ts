// The mirror file: a good file with defaults, each kind of bad input as one
// line naming the entry and the key, and the partition of entries over shards.
import {expect} from 'chai'
import {EXIT, UsageError} from '../../../src/lib/errors.js'
import {parseMirrorFile} from '../../../src/lib/mirror/file.js'
import {mirrorUnits, shardOf, shardUnits, type MirrorUnit} from '../../../src/lib/mirror/units.js'

const GOOD = `
registry: registry.example.com
concurrency: 3
defaults:
  revision: main
  exclude: ["*.bin", "original/*"]
  workers: 2
models:
  - repo: acme/tiny
    target: models/tiny
  - repo: acme/pair
    revision: [main, v1.0, refs/pr/1]
    target: models/pair
    tags: ["{revision}", "latest-{revision}"]
    registry: http://127.0.0.1:5000
  - repo: acme/big
    target: models/big
    tags: stable
    include: "*.safetensors"
    exclude: []
    base-image: docker.io/library/busybox:1.36
    platforms: [linux/amd64, linux/arm64]
    modelpack: true
    split-files: true
    upload-mode: stream
    chunk-mib: 16
`

function units(text: string): MirrorUnit[] {
  return mirrorUnits(parseMirrorFile(text, 'm.yaml').entries, 'm.yaml')
}

function usageMessage(text: string): string {
  try {
    units(text)
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError)
    expect((error as UsageError).exitCode).to.equal(EXIT.usage)
    const message = (error as Error).message
    expect(message.split('\n')).to.have.length(1)
    return message
  }
  throw new Error('no error')
}

const entry = (lines: string) => `registry: r.example.com\nmodels:\n  - repo: a/b\n    target: t\n${lines}`

describe('mirror file', () => {
  it('reads a good file: defaults apply, entries override them, several revisions make several images', () => {
    const file = parseMirrorFile(GOOD, 'm.yaml')
    expect(file.concurrency).to.equal(3)
    const all = mirrorUnits(file.entries, 'm.yaml')
    expect(all.map((u) => [u.entry, u.revision])).to.deep.equal([
      [0, 'main'],
      [1, 'main'],
      [1, 'v1.0'],
      [1, 'refs/pr/1'],
      [2, 'main'],
    ])
    const [tiny, pairMain, , pairPr, big] = all
    expect(tiny.params).to.include({hfRepo: 'acme/tiny', revision: 'main', targetRepo: 'models/tiny', workers: 2, uploadMode: 'auto'})
    expect(tiny.params.targetTag).to.equal(undefined)
    expect(tiny.params.registry.display).to.equal('registry.example.com')
    expect(tiny.params.exclude).to.deep.equal(['*.bin', 'original/*'])
    expect(pairMain.params.registry.baseUrl).to.equal('http://127.0.0.1:5000')
    expect(pairMain.params.targetTag).to.equal('main')
    expect(pairMain.params.alsoTags).to.deep.equal(['latest-main'])
    expect(pairPr.params.targetTag).to.equal('refs-pr-1')
    expect(big.params).to.include({
      targetTag: 'stable',
      baseImage: 'docker.io/library/busybox:1.36',
      modelpack: true,
      uploadMode: 'stream',
      chunkMiB: 16,
    })
    expect(big.params.include).to.deep.equal(['*.safetensors'])
    expect(big.params.exclude).to.deep.equal([])
    expect(big.params.platforms).to.deep.equal([
      {os: 'linux', architecture: 'amd64'},
      {os: 'linux', architecture: 'arm64'},
    ])
    expect(big.splitFiles).to.equal(true)
    expect(tiny.splitFiles).to.equal(false)
  })

  const bad: Array<[string, string, RegExp]> = [
    ['not YAML', 'models: [\n', /^m\.yaml: .* at line \d+, column \d+ \(not valid YAML\)\.$/],
    ['a duplicate key', 'registry: a\nregistry: b\nmodels: []\n', /^m\.yaml: Map keys must be unique at line 2/],
    ['a list at the top', '- repo: a/b\n', /^m\.yaml: must be a map with a `models:` list/],
    [
      'an unknown top-level key',
      'registy: r\nmodels: []\n',
      /^m\.yaml: unknown key "registy" \(known: registry, concurrency, defaults, models\)\.$/,
    ],
    ['no models', 'registry: r\n', /^m\.yaml: models must be a list of entries \(got nothing\)\.$/],
    ['an empty models list', 'registry: r\nmodels: []\n', /^m\.yaml: models is empty/],
    [
      'concurrency out of range',
      'concurrency: 0\nmodels: [{repo: a/b, target: t}]\n',
      /^m\.yaml: concurrency must be from 1 to 16 \(got 0\)\.$/,
    ],
    [
      'concurrency a string',
      'concurrency: two\nmodels: [{repo: a/b, target: t}]\n',
      /^m\.yaml: concurrency must be a whole number \(got the string "two"\)\.$/,
    ],
    [
      'an entry that is a string',
      'registry: r\nmodels: [acme/x]\n',
      /^m\.yaml: models\[0\] must be a map with repo and target \(got the string "acme\/x"\)\.$/,
    ],
    ['an unknown entry key', entry('    tag: v1\n'), /^m\.yaml: models\[0\]: unknown key "tag" \(known: repo, revision, target, tags,/],
    ['a missing target', 'registry: r\nmodels:\n  - repo: a/b\n', /^m\.yaml: models\[0\]: target is missing\.$/],
    [
      'a number for a string',
      entry('    base-image: 5\n'),
      /^m\.yaml: models\[0\]\.base-image must be a non-empty string \(got the number 5\)\.$/,
    ],
    [
      'a map for a list',
      entry('    include: {a: 1}\n'),
      /^m\.yaml: models\[0\]\.include must be a string or a list of non-empty strings \(got a map\)\.$/,
    ],
    [
      'a string for a boolean',
      entry('    split-files: "yes"\n'),
      /^m\.yaml: models\[0\]\.split-files must be true or false \(got the string "yes"\)\.$/,
    ],
    [
      'a string for a number',
      entry('    workers: "4"\n'),
      /^m\.yaml: models\[0\]\.workers must be a whole number \(got the string "4"\)\.$/,
    ],
    [
      'an empty value',
      entry('    revision:\n'),
      /^m\.yaml: models\[0\]\.revision must be a string or a list of non-empty strings \(got nothing\)\.$/,
    ],
    [
      'a per-model key in defaults',
      'registry: r\ndefaults: {target: t}\nmodels: [{repo: a/b, target: t}]\n',
      /^m\.yaml: defaults\.target cannot be a default/,
    ],
    [
      'an unknown default',
      'registry: r\ndefaults: {worker: 2}\nmodels: [{repo: a/b, target: t}]\n',
      /^m\.yaml: defaults: unknown key "worker"/,
    ],
    [
      'a wrong default type',
      'registry: r\ndefaults: {modelpack: 1}\nmodels: [{repo: a/b, target: t}]\n',
      /^m\.yaml: defaults\.modelpack must be true or false/,
    ],
    ['no registry anywhere', 'models: [{repo: a/b, target: t}]\n', /^m\.yaml: models\[0\]: no registry: set registry at the top/],
    ['workers out of range', entry('    workers: 40\n'), /^m\.yaml: models\[0\]: workers must be a whole number from 1 to 8 \(got 40\)\.$/],
    ['a bad repo', 'registry: r\nmodels: [{repo: a/b, target: t}, {repo: "../x", target: t}]\n', /^m\.yaml: models\[1\]: /],
    ['a bad tag', entry('    tags: "bad tag"\n'), /^m\.yaml: models\[0\]: .*tags/],
    [
      'an unknown upload mode',
      entry('    upload-mode: fast\n'),
      /^m\.yaml: models\[0\]: upload-mode must be one of auto, chunked, stream, monolithic/,
    ],
    ['platforms without a base image', entry('    platforms: linux/arm64\n'), /^m\.yaml: models\[0\]: platforms needs base-image/],
    [
      'several revisions on one fixed tag',
      entry('    revision: [main, v1]\n    tags: stable\n'),
      /^m\.yaml: models\[0\]: with several revisions every tag must contain \{revision\}/,
    ],
    [
      'the same image twice',
      'registry: r\nmodels: [{repo: a/b, target: t}, {repo: a/b, target: t}]\n',
      /^m\.yaml: models\[1\]: pushes a\/b@main to the same image as models\[0\]/,
    ],
  ]
  for (const [what, text, want] of bad) {
    it(`refuses ${what} in one line`, () => {
      expect(usageMessage(text)).to.match(want)
    })
  }
})

describe('mirror shards', () => {
  const list = `registry: r.example.com\nmodels:\n${['d', 'a', 'c', 'b', 'e'].map((n) => `  - {repo: acme/${n}, target: m/${n}}\n`).join('')}  - {repo: acme/huge, target: m/huge, split-files: true}\n`

  it('give every whole entry to exactly one shard, balanced, whatever the order of the file', () => {
    const all = units(list)
    const reversed = units(`registry: r.example.com\nmodels:\n${list.split('\n').slice(2).reverse().join('\n')}\n`)
    for (const count of [1, 2, 3, 7]) {
      const taken = Array.from({length: count}, (_, i) => shardUnits(all, shardOf(i, count)).filter((u) => !u.splitFiles))
      const repos = taken.flat().map((u) => u.params.hfRepo)
      expect([...repos].sort(), `count ${count}`).to.deep.equal(['acme/a', 'acme/b', 'acme/c', 'acme/d', 'acme/e'])
      const sizes = taken.map((t) => t.length)
      expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1)
      for (let i = 0; i < count; i++) {
        const again = shardUnits(reversed, shardOf(i, count)).filter((u) => !u.splitFiles)
        expect(again.map((u) => u.params.hfRepo).sort()).to.deep.equal(taken[i].map((u) => u.params.hfRepo).sort())
      }
    }
  })

  it('run a split-files entry on every shard with that shard’s share', () => {
    const all = units(list)
    for (let i = 0; i < 3; i++) {
      const huge = shardUnits(all, shardOf(i, 3)).filter((u) => u.splitFiles)
      expect(huge).to.have.length(1)
      expect(huge[0].params.split).to.deep.equal({index: i, count: 3})
    }
    expect(shardUnits(all, shardOf(undefined, undefined)).find((u) => u.splitFiles)!.params.split).to.equal(undefined)
  })

  it('refuse an index outside the count', () => {
    expect(() => shardOf(3, 3)).to.throw(UsageError, /--shard-index must be from 0 to 2 with --shard-count 3 \(got 3\)/)
    expect(() => shardOf(1, undefined)).to.throw(UsageError, /set --shard-count \(MODELCAR_SHARD_COUNT\)/)
    expect(() => shardOf(0, 0)).to.throw(UsageError, /--shard-count must be a whole number from 1/)
  })
})
