import {expect} from 'chai'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PushEvents} from '../../../../src/lib/push/events.js'
import type {PushResult} from '../../../../src/lib/push/execute.js'
import type {PlannedFile, PushPlan} from '../../../../src/lib/push/plan.js'
import {azure, ciView, github} from '../../../../src/lib/ui/render/ci.js'
import {resolveLogStyle} from '../../../../src/lib/ui/log-style.js'

const file = (path: string, size: number): PlannedFile => ({path, size, layerSize: size + 2560, oid: 'o'})
const WEIGHTS = file('model.safetensors', 2 * 1024 * 1024)
const CONFIG = file('config.json', 22)
const digest = (c: string) => `sha256:${c.repeat(64)}`
const RESULT: PushResult = {
  manifestDigest: digest('d'),
  imageRef: 'reg.example/m:v1',
  imageRefDigest: `reg.example/m@${digest('d')}`,
  tags: ['v1'],
  files: [
    {path: WEIGHTS.path, digest: digest('a'), size: WEIGHTS.layerSize, contentSha256: 'c', outcome: 'uploaded'},
    {path: CONFIG.path, digest: digest('b'), size: CONFIG.layerSize, contentSha256: 'c', outcome: 'exists'},
  ],
  bytesUploaded: WEIGHTS.layerSize,
  bytesReread: 0,
  seconds: 2,
  warnings: [],
}

/** A small push fed as events: a warning, a file already there, one uploaded over 2 s. */
async function smallPush(dialect: Parameters<typeof ciView>[1], opts: {fail?: boolean; resume?: boolean} = {}): Promise<string[]> {
  const written: string[] = []
  const clock = {now: 0}
  const events = new PushEvents()
  const view = ciView(events, dialect, {stream: {write: (t: string) => written.push(t)}, clock: () => clock.now})
  events.emit('plan', {
    params: {workers: 2, hfRepo: 'acme/tiny'},
    sha: 'f'.repeat(40),
    imageRef: 'reg.example/m:v1',
    files: [WEIGHTS, CONFIG],
    totalBytes: WEIGHTS.size + CONFIG.size,
    warnings: ['2 layers; fine'],
  } as unknown as PushPlan)
  if (opts.resume) events.emit('runResumed', 4)
  for (const f of [WEIGHTS, CONFIG]) events.emit('fileQueued', f)
  events.emit('fileStarted', WEIGHTS)
  events.emit('fileStarted', CONFIG)
  events.emit('fileSkipped', CONFIG, {digest: digest('b'), size: CONFIG.layerSize, contentSha256: 'c'}, 'exists')
  clock.now += 2000
  if (opts.fail) {
    // A message from outside that tries to smuggle in a command of its own.
    events.emit('fileFailed', WEIGHTS, new Error('500 from registry\n##vso[task.setvariable variable=x]y\n::error::z %'))
    await view.close()
  } else {
    events.emit('fileProgress', WEIGHTS, WEIGHTS.layerSize)
    events.emit('fileDone', WEIGHTS, {digest: digest('a'), size: WEIGHTS.layerSize, contentSha256: 'c'})
    events.emit('phase', 'Pushing config and manifest')
    await view.close(RESULT)
  }
  return written.join('').split('\n').slice(0, -1)
}

const SUMMARY = 'pushed 2 files in 2s: 2.0 MiB uploaded (1.0 MB/s), 22 B skipped, ' + 'digest dddddddddddd'

describe('ui/render/ci', () => {
  it('azure: a section, a warning issue, a group per finished file, progress in percent, and the three outputs', async () => {
    expect(await smallPush(azure)).to.deep.equal([
      '##[section]Pushing acme/tiny@ffffffffffff to reg.example/m:v1 (2 files, 2.0 MiB)',
      '##vso[task.logissue type=warning]2 layers; fine',
      '##[group]config.json  22 B  bbbbbbbbbbbb  already in registry',
      `config.json: already in the registry as ${digest('b')}`,
      '##[endgroup]',
      '##vso[task.setprogress value=0;]modelcar push',
      '##[group]model.safetensors  2.0 MiB  aaaaaaaaaaaa  1.0 MB/s',
      `model.safetensors: uploaded as ${digest('a')}`,
      '##[endgroup]',
      '##vso[task.setprogress value=100;]modelcar push',
      'Pushing config and manifest',
      SUMMARY,
      `##vso[task.setvariable variable=manifestDigest;isOutput=true]${digest('d')}`,
      '##vso[task.setvariable variable=imageRef;isOutput=true]reg.example/m:v1',
      `##vso[task.setvariable variable=imageRefDigest;isOutput=true]reg.example/m@${digest('d')}`,
    ])
  })

  it('azure: a failure is a logged error issue, escaped so its text cannot become a command; a resume says so', async () => {
    expect(await smallPush(azure, {fail: true, resume: true})).to.deep.equal([
      '##[section]Pushing acme/tiny@ffffffffffff to reg.example/m:v1 (2 files, 2.0 MiB)',
      '##vso[task.logissue type=warning]2 layers; fine',
      'Resuming run 4',
      '##[group]config.json  22 B  bbbbbbbbbbbb  already in registry',
      `config.json: already in the registry as ${digest('b')}`,
      '##[endgroup]',
      '##vso[task.setprogress value=0;]modelcar push',
      '##vso[task.logissue type=error]model.safetensors: 500 from registry%0A##vso[task.setvariable variable=x]y%0A::error::z %AZP25',
    ])
  })

  it('github: groups, an escaped ::error::, and the outputs appended to $GITHUB_OUTPUT as name=value lines', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'modelcar-gh-')), 'output')
    writeFileSync(out, 'earlier=kept\n')
    expect(await smallPush(github(out))).to.deep.equal([
      'Pushing acme/tiny@ffffffffffff to reg.example/m:v1 (2 files, 2.0 MiB)',
      '::warning::2 layers; fine',
      '::group::config.json  22 B  bbbbbbbbbbbb  already in registry',
      `config.json: already in the registry as ${digest('b')}`,
      '::endgroup::',
      '::group::model.safetensors  2.0 MiB  aaaaaaaaaaaa  1.0 MB/s',
      `model.safetensors: uploaded as ${digest('a')}`,
      '::endgroup::',
      'Pushing config and manifest',
      SUMMARY,
    ])
    expect(readFileSync(out, 'utf8')).to.equal(
      [
        'earlier=kept',
        `manifestDigest=${digest('d')}`,
        'imageRef=reg.example/m:v1',
        `imageRefDigest=reg.example/m@${digest('d')}`,
        '',
      ].join('\n'),
    )
    const failed = await smallPush(github(out), {fail: true})
    expect(failed).to.include('::error::model.safetensors: 500 from registry%0A##vso[task.setvariable variable=x]y%0A::error::z %25')
    expect(readFileSync(out, 'utf8').split('\n'), 'a failed push exports nothing').to.have.length(5)
  })

  it('auto picks: a terminal first, then TF_BUILD (azure), GITHUB_ACTIONS (github), else text; an explicit style wins', () => {
    expect(resolveLogStyle('auto', {TF_BUILD: 'True'}, true)).to.equal('tty')
    expect(resolveLogStyle('auto', {TF_BUILD: 'True'}, false)).to.equal('azure')
    expect(resolveLogStyle('auto', {GITHUB_ACTIONS: 'true'}, false)).to.equal('github')
    expect(resolveLogStyle('auto', {}, false)).to.equal('text')
    expect(resolveLogStyle('text', {GITHUB_ACTIONS: 'true'}, true)).to.equal('text')
  })
})
