import {expect} from 'chai'
import {PushEvents} from '../../../../src/lib/push/events.js'
import type {PushResult} from '../../../../src/lib/push/execute.js'
import type {PlannedFile, PushPlan} from '../../../../src/lib/push/plan.js'
import {liveView} from '../../../../src/lib/ui/render/live.js'
import {plain, screen} from './screen.js'

const file = (path: string, size = 10): PlannedFile => ({path, size, layerSize: size + 2048 + (512 - (size % 512 || 512)), oid: 'o'})
const digest = (c: string) => `sha256:${c.repeat(64)}`
const done = (f: PlannedFile) => ({digest: digest('a'), size: f.layerSize, contentSha256: 'x'})

/** A terminal of the given size that keeps what is written to it, and a clock the test moves. */
function setup(size: {columns: number; rows: number}, color = false) {
  let written = ''
  const clock = {now: 5_000_000}
  const events = new PushEvents()
  const stream = {...size, write: (text: string) => (written += text)}
  const view = liveView(events, {stream, clock: () => clock.now, color, frameMs: 60_000})
  return {events, view, clock, shown: () => plain(screen(written, size.rows)), raw: () => written}
}

describe('ui/render/live', () => {
  it('draws only running files and a footer of totals; finished files fold into the count; failures and phases stay above', async () => {
    const [A, B, C] = [file('a.bin'), file('b.bin'), file('c.bin')]
    const {events, view, clock, shown} = setup({columns: 100, rows: 30})
    events.emit('plan', {params: {workers: 2}, files: [A, B, C], warnings: []} as unknown as PushPlan)
    for (const f of [A, B, C]) events.emit('fileQueued', f)
    events.emit('fileStarted', A)
    events.emit('fileStarted', B)
    events.emit('fileProgress', A, 1024)
    events.emit('phase', 'checking the registry') // a line that stays redraws the frame below it
    expect(shown()).to.deep.equal(['checking the registry', '❯ a.bin  4 B / 10 B', '❯ b.bin  0 B / 10 B', '0/3 files  4 B / 30 B'])
    clock.now += 1000
    events.emit('fileDone', A, done(A))
    events.emit('fileFailed', B, new Error('the Hub answered 404'))
    events.emit('phase', 'Pushing config and manifest')
    expect(shown()).to.deep.equal([
      'checking the registry',
      '✖ b.bin: the Hub answered 404',
      'Pushing config and manifest',
      '1/3 files  10 B / 30 B  1 failed',
    ])
    await view.close()
    expect(shown(), 'the frame gives way to the last totals').to.deep.equal([
      'checking the registry',
      '✖ b.bin: the Hub answered 404',
      'Pushing config and manifest',
      '1/3 files  10 B / 30 B  1 failed',
      '',
    ])
  })

  it('131 files on 80x24: the totals stay on screen throughout, the running rows fit, and the summary closes it', async () => {
    const files = Array.from({length: 131}, (_, i) => file(`shard-${String(i).padStart(3, '0')}-${'x'.repeat(70)}.json`, 22))
    const {events, view, clock, shown, raw} = setup({columns: 80, rows: 24})
    for (const f of files) events.emit('fileQueued', f)
    for (const [i, f] of files.entries()) {
      events.emit('fileStarted', f)
      events.emit('fileProgress', f, 1024)
      if (i >= 30) events.emit('fileDone', files[i - 30], done(files[i - 30]))
      events.emit('phase', `step ${i}`)
      const screenNow = shown()
      expect(screenNow.length, `after file ${i}`).to.be.at.most(24)
      expect(
        screenNow.every((row) => [...row].length < 80),
        'no row wraps',
      ).to.equal(true)
      expect(screenNow.at(-1), `totals after file ${i}`).to.match(new RegExp(`^${Math.max(0, i - 29)}/131 files  `))
    }
    expect(shown().at(-2)).to.equal('  … and 9 more running')
    clock.now += 3000
    for (const f of files.slice(101)) events.emit('fileDone', f, done(f))
    const result = {
      manifestDigest: digest('d'),
      imageRef: 'r/m:t',
      imageRefDigest: `r/m@${digest('d')}`,
      tags: ['t'],
      bytesUploaded: 0,
      bytesReread: 0,
      seconds: 3.2,
      files: files.map((f) => ({path: f.path, digest: digest('a'), size: f.layerSize, contentSha256: 'x', outcome: 'uploaded'})),
    } as PushResult
    await view.close(result)
    expect(shown().slice(-3)).to.deep.equal([
      '131/131 files  2.8 KiB / 2.8 KiB',
      '✔ pushed 131 files in 3s: 2.8 KiB uploaded, digest dddddddddddd',
      '',
    ])
    expect(raw(), 'the cursor is shown again').to.match(/\u001B\[\?25h/)
  })

  it('colours only when asked (NO_COLOR turns them off by default)', async () => {
    const A = file('a.bin')
    for (const color of [true, false]) {
      const {events, view, raw} = setup({columns: 80, rows: 24}, color)
      events.emit('fileQueued', A)
      events.emit('fileStarted', A)
      events.emit('fileFailed', A, new Error('no'))
      await view.close()
      expect(/\u001B\[3[0-9]m/.test(raw()), `color ${color}`).to.equal(color)
    }
  })
})
