import {expect} from 'chai'
import {verifyProgress} from '../../../src/lib/ui/verify-progress.js'

function capture() {
  const chunks: string[] = []
  const stream = {write: (s: string) => chunks.push(s) > 0} as unknown as NodeJS.WritableStream
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  }
}

describe('ui/verify-progress', () => {
  it('prints the bytes read so far on a timer, once the total is known', async () => {
    const out = capture()
    const progress = verifyProgress({stream: out.stream, everyMs: 20})
    await new Promise((r) => setTimeout(r, 50))
    expect(out.lines()).to.deep.equal([])
    progress.expect!(4 * 1024 * 1024)
    progress.bytes!(1024 * 1024)
    progress.bytes!(1024 * 1024)
    await new Promise((r) => setTimeout(r, 50))
    progress.stop()
    const lines = out.lines()
    expect(lines.length).to.be.greaterThan(0)
    for (const line of lines) expect(line).to.match(/^verify: 2\.0 MiB of 4\.0 MiB read \(\d+\.\d MB\/s\)$/)
    const count = lines.length
    await new Promise((r) => setTimeout(r, 50))
    expect(out.lines()).to.have.length(count)
  })

  it('prints retries only when verbose', () => {
    const quiet = capture()
    const loud = capture()
    for (const [out, verbose] of [
      [quiet, false],
      [loud, true],
    ] as const) {
      const progress = verifyProgress({stream: out.stream, verbose})
      progress.retry!('GET 0123456789ab: HTTP 503')
      progress.stop()
    }
    expect(quiet.lines()).to.deep.equal([])
    expect(loud.lines()).to.deep.equal(['retry: GET 0123456789ab: HTTP 503'])
  })

  it('the text log style starts each line with its ISO time; quiet prints nothing', () => {
    const text = capture()
    const quiet = capture()
    for (const [out, opts] of [
      [text, {timestamps: true}],
      [quiet, {quiet: true}],
    ] as const) {
      const progress = verifyProgress({stream: out.stream, verbose: true, ...opts})
      progress.retry!('GET 0123456789ab: HTTP 503')
      progress.stop()
    }
    expect(text.lines()).to.have.length(1)
    expect(text.lines()[0]).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z retry: GET 0123456789ab: HTTP 503$/)
    expect(quiet.lines()).to.deep.equal([])
  })
})
