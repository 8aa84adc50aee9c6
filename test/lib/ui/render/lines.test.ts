import {expect} from 'chai'
import {setTimeout as sleep} from 'node:timers/promises'
import {PushEvents} from '../../../../src/lib/push/events.js'
import type {PlannedFile, PushPlan} from '../../../../src/lib/push/plan.js'
import {lineView} from '../../../../src/lib/ui/render/lines.js'

const file = (path: string, layerSize: number): PlannedFile => ({path, size: layerSize - 2048, layerSize, oid: 'o'})
const BIG = file('model.safetensors', 4 * 1024 * 1024)
const SMALL = file('config.json', 3072)
const THIRD = file('tokenizer.json', 10_240)
const plan = {
  params: {workers: 2},
  files: [BIG, SMALL, THIRD],
  totalLayerBytes: BIG.layerSize + SMALL.layerSize + THIRD.layerSize,
  warnings: ['big.bin is over the limit'],
} as unknown as PushPlan
const digest = (c: string) => `sha256:${c.repeat(64)}`

/** A stream that keeps the lines written to it, and a clock the test moves. */
function setup(opts: {verbose?: boolean; heartbeatMs?: number; timestamps?: boolean} = {}) {
  const written: string[] = []
  const clock = {now: 1_000_000}
  const events = new PushEvents()
  const view = lineView(events, {stream: {write: (text: string) => written.push(text)}, clock: () => clock.now, ...opts})
  const lines = () => written.join('').split('\n').slice(0, -1)
  return {events, view, clock, lines}
}

describe('ui/render/lines', () => {
  it('prints a line when each file starts and ends, in listr2 symbols, then the phase; the view listens only', async () => {
    const {events, view, clock, lines} = setup()
    events.emit('plan', plan)
    events.emit('runResumed', 7)
    for (const f of [BIG, SMALL, THIRD]) events.emit('fileQueued', f)
    events.emit('fileStarted', BIG)
    events.emit('fileStarted', SMALL)
    events.emit('fileProgress', BIG, 1024 * 1024)
    events.emit('fileSkipped', SMALL, {digest: digest('a'), size: SMALL.layerSize, contentSha256: 'c'}, 'exists')
    events.emit('fileStarted', THIRD)
    events.emit('fileSkipped', THIRD, {digest: digest('b'), size: THIRD.layerSize, contentSha256: 'c'}, 'mounted')
    clock.now += 2000
    events.emit('fileDone', BIG, {digest: digest('c'), size: BIG.layerSize, contentSha256: 'c'})
    events.emit('phase', 'Pushing config and manifest')
    events.emit('manifestPushed', {digest: digest('d'), tags: ['t']})
    await view.close()
    expect(lines()).to.deep.equal([
      'warning: big.bin is over the limit',
      'Resuming run 7',
      '❯ model.safetensors',
      '❯ config.json',
      '✔ config.json  1.0 KiB  aaaaaaaaaaaa  already in registry',
      '❯ tokenizer.json',
      '✔ tokenizer.json  8.0 KiB  bbbbbbbbbbbb  mounted from another repository',
      '✔ model.safetensors  4.0 MiB  cccccccccccc  2.1 MB/s',
      'Pushing config and manifest',
    ])
  })

  it('a failed file shows its error; files never started are cancelled when the view closes', async () => {
    const {events, view, lines} = setup()
    for (const f of [BIG, SMALL, THIRD]) events.emit('fileQueued', f)
    events.emit('fileStarted', BIG)
    events.emit('fileFailed', BIG, new Error('the Hub answered 404'))
    await view.close()
    expect(lines()).to.deep.equal([
      '❯ model.safetensors',
      '✖ model.safetensors [FAILED: the Hub answered 404]',
      '↓ config.json [SKIPPED: cancelled]',
      '↓ tokenizer.json [SKIPPED: cancelled]',
    ])
  })

  it('retries and resumed sessions only with verbose; a learnt upload mode always', async () => {
    for (const verbose of [false, true]) {
      const {events, view, lines} = setup({verbose})
      events.emit('retry', 'PATCH /v2/m/blobs/uploads/x (attempt 2): 503')
      events.emit('fileResumed', BIG, 8 * 1024 * 1024)
      const why = 'the registry refused a 8388608-byte chunk as too large (413)'
      events.emit('uploadModeLearnt', {registry: 'registry.example', mode: 'stream', why, refused: true})
      const cut = 'the registry cancelled the upload session after a PATCH was cut (404)'
      events.emit('uploadModeLearnt', {registry: 'registry.example', mode: 'stream', why: cut, refused: false})
      await view.close()
      const learnt = [
        `registry.example refused the previous upload mode (${why}): using stream uploads from now on`,
        `registry.example: ${cut}; using stream uploads from now on (fewer requests to lose)`,
      ]
      const retries = [
        'retry: PATCH /v2/m/blobs/uploads/x (attempt 2): 503',
        `retry: resuming model.safetensors at byte 8388608 of ${BIG.layerSize}`,
      ]
      expect(lines(), `verbose ${verbose}`).to.deep.equal(verbose ? [...retries, ...learnt] : learnt)
    }
  })

  it('a heartbeat with the file bytes moved, the files done and the ETA, and a line per running file, from queueing to close', async () => {
    const {events, view, clock, lines} = setup({heartbeatMs: 15})
    events.emit('plan', plan)
    await sleep(40)
    expect(lines(), 'nothing before the files are queued').to.deep.equal(['warning: big.bin is over the limit'])
    for (const f of [BIG, SMALL, THIRD]) events.emit('fileQueued', f)
    events.emit('fileStarted', BIG)
    events.emit('fileStarted', SMALL)
    events.emit('fileProgress', BIG, 2 * 1024 * 1024)
    events.emit('fileProgress', BIG, 1024 * 1024) // the registry kept less: progress goes back
    events.emit('fileDone', SMALL, {digest: digest('a'), size: SMALL.layerSize, contentSha256: 'c'})
    clock.now += 1000
    await sleep(40)
    await view.close()
    expect(lines().slice(0, 4)).to.deep.equal([
      'warning: big.bin is over the limit',
      '❯ model.safetensors',
      '❯ config.json',
      '✔ config.json  1.0 KiB  aaaaaaaaaaaa',
    ])
    expect(lines().at(-1)).to.equal('↓ tokenizer.json [SKIPPED: cancelled]')
    const beats = lines().slice(4, -1)
    expect(beats.length).to.be.at.least(1)
    // File bytes, not layer bytes: a quarter of the big layer is a quarter of its file; the small file counts its 1 KiB.
    const moved = Math.round(BIG.size / 4) + SMALL.size
    const total = BIG.size + SMALL.size + THIRD.size
    const eta = Math.round((((total - moved) / moved) * 1000) / 1000)
    expect([...new Set(beats)]).to.deep.equal([
      `progress: 1.0 MiB of 4.0 MiB (${(moved / 1e6).toFixed(1)} MB/s), 1 of 3 files done, ETA ${eta}s`,
      '  model.safetensors  1024 KiB / 4.0 MiB',
    ])
    const count = lines().length
    await sleep(40)
    expect(lines().length, 'no heartbeat after close').to.equal(count)
  })
})

describe('ui/render/lines: the text log style (timestamps)', () => {
  const result = (files: Array<[PlannedFile, 'uploaded' | 'exists' | 'mounted']>, seconds: number) => ({
    manifestDigest: digest('e'),
    imageRef: 'reg.example/m:v1',
    imageRefDigest: `reg.example/m@${digest('e')}`,
    tags: ['v1'],
    files: files.map(([f, outcome]) => ({path: f.path, digest: digest('a'), size: f.layerSize, contentSha256: 'c', outcome})),
    bytesUploaded: 0,
    bytesReread: 0,
    seconds,
    warnings: [],
  })

  it('a small push: each line carries its ISO time; a success ends with the summary (bytes, reused, skipped, time, digest)', async () => {
    const {events, view, clock, lines} = setup({timestamps: true})
    for (const f of [BIG, SMALL, THIRD]) events.emit('fileQueued', f)
    events.emit('fileStarted', BIG)
    events.emit('fileStarted', SMALL)
    events.emit('fileSkipped', SMALL, {digest: digest('a'), size: SMALL.layerSize, contentSha256: 'c'}, 'exists')
    events.emit('fileStarted', THIRD)
    events.emit('fileSkipped', THIRD, {digest: digest('b'), size: THIRD.layerSize, contentSha256: 'c'}, 'mounted')
    clock.now += 2000
    events.emit('fileDone', BIG, {digest: digest('c'), size: BIG.layerSize, contentSha256: 'c'})
    events.emit('manifestPushed', {digest: digest('e'), tags: ['v1']})
    await view.close(
      result(
        [
          [BIG, 'uploaded'],
          [SMALL, 'exists'],
          [THIRD, 'mounted'],
        ],
        2.5,
      ),
    )
    const t0 = new Date(1_000_000).toISOString()
    const t2 = new Date(1_002_000).toISOString()
    expect(lines()).to.deep.equal([
      `${t0} ❯ model.safetensors`,
      `${t0} ❯ config.json`,
      `${t0} ✔ config.json  1.0 KiB  aaaaaaaaaaaa  already in registry`,
      `${t0} ❯ tokenizer.json`,
      `${t0} ✔ tokenizer.json  8.0 KiB  bbbbbbbbbbbb  mounted from another repository`,
      `${t2} ✔ model.safetensors  4.0 MiB  cccccccccccc  2.1 MB/s`,
      `${t2} pushed 3 files in 3s: 4.0 MiB uploaded (1.7 MB/s), 8.0 KiB reused, 1.0 KiB skipped, ` + 'digest eeeeeeeeeeee',
    ])
    expect(lines().join('\n')).not.to.include('\r')
  })

  it('a failure: the failed file with its error, the files never started, and no summary', async () => {
    const {events, view, lines} = setup({timestamps: true})
    for (const f of [BIG, SMALL]) events.emit('fileQueued', f)
    events.emit('fileStarted', BIG)
    events.emit('fileFailed', BIG, new Error('the registry answered 500'))
    await view.close()
    const t = new Date(1_000_000).toISOString()
    expect(lines()).to.deep.equal([
      `${t} ❯ model.safetensors`,
      `${t} ✖ model.safetensors [FAILED: the registry answered 500]`,
      `${t} ↓ config.json [SKIPPED: cancelled]`,
    ])
  })

  it('a resume: the run it continues, and files finished before are skipped as already in the registry', async () => {
    const {events, view, lines} = setup({timestamps: true})
    events.emit('runResumed', 12)
    events.emit('fileQueued', SMALL)
    events.emit('fileStarted', SMALL)
    events.emit('fileSkipped', SMALL, {digest: digest('a'), size: SMALL.layerSize, contentSha256: 'c'}, 'exists')
    await view.close(result([[SMALL, 'exists']], 0.2))
    const t = new Date(1_000_000).toISOString()
    expect(lines()).to.deep.equal([
      `${t} Resuming run 12`,
      `${t} ❯ config.json`,
      `${t} ✔ config.json  1.0 KiB  aaaaaaaaaaaa  already in registry`,
      `${t} pushed 1 file in 0s: 0 B uploaded, 1.0 KiB skipped, digest eeeeeeeeeeee`,
    ])
  })
})
