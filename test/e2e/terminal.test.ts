// The push as people meet it on a terminal: the built CLI in a real 80x24
// terminal (tmux), pushing a repo of 131 small files. While it runs and when
// it ends, the screen shows the totals; at the end, the summary and the result.
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'
import {expect} from 'chai'
import {startHubSim, type HubSim, type SimFile} from '../fixtures/hub/index.js'
import {startRegistry, type TestRegistry} from '../fixtures/registry/index.js'
import {commandWorks, requireTools} from '../fixtures/require-tool.js'
import {cleanEnv, requireRealTools, ROOT, tempStateDb} from './helpers.js'

const execFileP = promisify(execFile)
const SHA = '1310000000000000000000000000000000000131'
const FILES: SimFile[] = Array.from({length: 131}, (_, i) => ({path: `shards/part-${String(i).padStart(3, '0')}.json`, size: 22}))
const TOTALS = /^\d+\/131 files {2}/

describe('e2e: the live view in a terminal', function () {
  this.timeout(60_000)
  let hub: HubSim
  let reg: TestRegistry
  const socket = `modelcar-test-${process.pid}`
  const tmux = (...args: string[]) => execFileP('tmux', ['-L', socket, ...args])

  before(async function () {
    await requireRealTools(this)
    requireTools(this, commandWorks('tmux', ['-V']), 'tmux missing: install it with `apt-get install tmux`')
    hub = await startHubSim({repos: [{id: 'acme/many', commits: [{sha: SHA, files: FILES}]}]})
    reg = await startRegistry()
  })
  after(async () => {
    await tmux('kill-server').catch(() => undefined)
    await reg?.close()
    await hub?.close()
  })

  it('131 files at 80x24: the totals are on screen throughout, the summary and the result at the end', async () => {
    // Some downloads stall (and are retried), so the push runs long enough to be seen running.
    hub.injectFault({kind: 'stall', afterBytes: 0, ms: 800, times: 6, match: (path) => path.includes('/resolve/')})
    const env = {...cleanEnv(), HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: tempStateDb(), TERM: 'xterm-256color'}
    const vars = Object.entries(env)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(' ')
    const args = ['push', '--hf-repo', 'acme/many', '--registry', reg.host, '--target-repo', 'm/many', '--workers', '2']
    const cli = `${quote(process.execPath)} ${quote(`${ROOT}bin/run.js`)} ${args.map(quote).join(' ')}`
    const command = `env -i ${vars} ${cli}; echo "EXIT=$?"; sleep 600`
    await tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', 'push', command)
    const running: string[][] = []
    let last: string[] = []
    const deadline = Date.now() + 45_000
    while (Date.now() < deadline) {
      last = (await tmux('capture-pane', '-p', '-t', 'push')).stdout.replace(/\n+$/, '').split('\n')
      if (last.some((l) => l.startsWith('EXIT='))) break
      if (last.some((l) => TOTALS.test(l)) && !last.some((l) => l.startsWith('✔ pushed'))) running.push(last)
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(
      last.find((l) => l.startsWith('EXIT=')),
      last.join('\n'),
    ).to.equal('EXIT=0')
    expect(running.length, 'frames seen while it ran').to.be.at.least(2)
    for (const frame of running) {
      expect(frame.length).to.be.at.most(24)
      // The frame is the last thing on screen: its footer of totals is the bottom line.
      expect(frame.at(-1), frame.join('\n')).to.match(TOTALS)
    }
    expect(
      running.some((frame) => frame.some((l) => /^❯ shards\/part-\d{3}\.json {2}\d+ B \/ 22 B/.test(l))),
      'running files as rows',
    ).to.equal(true)
    const end = last.join('\n')
    expect(end).to.match(/^131\/131 files {2}2\.8 KiB \/ 2\.8 KiB/m)
    expect(end, end).to.match(/^✔ pushed 131 files in \d+s: 2\.8 KiB uploaded, digest [0-9a-f]{12}$/m)
    expect(end, 'the result follows (wrapped at 80 columns)').to.match(/^IMAGEREFDIGEST=127\.0\.0\.1:\d+\/m\/many@sha256:[0-9a-f]+$/m)
    expect(end, 'finished files are folded into the count, not listed').not.to.include('part-000.json')
  })
})

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}
