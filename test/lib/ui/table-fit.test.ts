// Tables measured in terminal cells and cut to the terminal's width: exact
// lines at 80 columns, and nothing cut when stdout is not a terminal.
import {expect} from 'chai'
import type {PushPlan} from '../../../src/lib/push/plan.js'
import type {RunDetail, RunSummary} from '../../../src/lib/state/report.js'
import {renderPlan, table} from '../../../src/lib/ui/output.js'
import {renderRunList, renderStatus} from '../../../src/lib/ui/runs-render.js'
import {textWidth, truncateEnd, truncateMiddle} from '../../../src/lib/ui/text-width.js'

const LONG = 'models/very/long/folder/structure/with/many/levels/of/nesting/and/then/the/weights/model-00001-of-00002.safetensors'
const ERROR =
  'PATCH http://127.0.0.1:5000/v2/m/blobs/uploads/0f1e2d3c answered 500 Internal Server Error after 3 retries: ' +
  '{"errors":[{"code":"UNKNOWN"}]}'

const run: RunSummary = {
  id: 7,
  status: 'failed',
  hfRepo: 'some-organisation/a-model-with-a-long-name',
  revision: 'main',
  sha: 'abcdef0123456789abcdef0123456789abcdef01',
  target: 'registry.internal.example.com:5000/team/models/a-model-with-a-long-name:abcdef012345',
  manifestDigest: null,
  files: 2,
  bytesTotal: 3 * 1024 * 1024,
  bytesUploaded: 0,
  bytesReread: 0,
  attempts: 1,
  startedAt: '2026-01-02T03:04:05.000Z',
  finishedAt: '2026-01-02T03:05:06.000Z',
  durationSeconds: 61,
  error: '1 file failed',
}

const detail: RunDetail = {
  ...run,
  fileStates: [
    {path: 'config.json', state: 'done', size: 700, layerSize: 2048, bytesDone: 2048, digest: 'sha256:1', error: null},
    {path: LONG, state: 'failed', size: 2048, layerSize: 4096, bytesDone: 0, digest: null, error: ERROR},
  ],
  bytesDone: 2048,
  bytesLeft: 4096,
  resumeCommand: 'modelcar resume 7',
}

describe('ui tables that fit the terminal', () => {
  it('measures CJK and emoji as two cells, so columns line up', () => {
    expect(
      table(
        [
          ['模型.bin', '1'],
          ['a😀.txt', '2'],
          ['plain.txt', '3'],
        ],
        ['FILE', 'N'],
      ).split('\n'),
    ).to.deep.equal(['FILE       N', '模型.bin   1', 'a😀.txt    2', 'plain.txt  3'])
    expect(textWidth('模型.bin')).to.equal(8)
  })

  it('cuts paths in the middle and text at the end, counting cells', () => {
    expect(truncateMiddle('models/very/long/path/name.safetensors', 24)).to.equal('models/very/…safetensors')
    expect(textWidth(truncateMiddle('models/very/long/path/name.safetensors', 24))).to.equal(24)
    expect(truncateMiddle('模型模型模型模型/x.bin', 11)).to.equal('模型…x.bin') // a wide character is never split: 10 cells
    expect(truncateEnd('connection reset by peer', 12)).to.equal('connection …')
    expect(truncateEnd('short', 12)).to.equal('short')
  })

  it('lists runs within 80 columns: the target, then the source lose their middle', () => {
    const lines = renderRunList({runs: [run]}, {width: 80}).split('\n')
    expect(lines).to.deep.equal([
      'ID  STATUS  SOURCE       TARGET      DIGEST  BYTES    TIME   STARTED',
      '7   failed  some-…12345  regis…2345  -       3.0 MiB  1m01s  2026-01-02 03:04:05',
    ])
    expect(Math.max(...lines.map(textWidth))).to.be.at.most(80)
  })

  it('keeps every cell whole when stdout is not a terminal', () => {
    expect(renderRunList({runs: [run]}).split('\n')[1]).to.include(run.target)
    expect(renderPlan(plan(), undefined)).to.include(LONG)
  })

  it('never puts a whole error in the STATE column of status; status ID prints it below the table', () => {
    expect(renderStatus({runs: [detail]}, {width: 80}).split('\n')).to.deep.equal([
      'Run 7  failed  some-organisation/a-model-with-a-long-name@abcdef012345 → ' +
        'registry.internal.example.com:5000/team/models/a-model-with-a-long-name:abcdef012345',
      '  started 2026-01-02T03:04:05.000Z, attempt 1, last error: 1 file failed',
      '',
      '  FILE                                             STATE                 SIZE',
      '  config.json                                      done                  700 B',
      '  models/very/long/folder…01-of-00002.safetensors  failed: PATCH http:…  2.0 KiB',
      '',
      '  2.0 KiB done, 4.0 KiB left of 3.0 MiB',
      '  Resume with: modelcar resume 7',
    ])
    // Not a terminal: the error is still cut in the column, to 40 cells.
    expect(renderStatus({runs: [detail]})).to.include(`failed: ${ERROR.slice(0, 39)}…  2.0 KiB`)
    const full = renderStatus({runs: [detail]}, {width: 80, full: true}).split('\n')
    expect(full).to.include(`  ${LONG} failed: ${ERROR}`)
    expect(full.find((l) => l.includes('failed (see below)'))).to.match(/^ {2}models\/.*….*failed \(see below\)\s+2\.0 KiB$/)
  })

  it('fits the dry-run plan to 80 columns by cutting file paths in the middle', () => {
    const lines = renderPlan(plan(), 80).split('\n')
    expect(lines.slice(2, 5)).to.deep.equal([
      'FILE                                                   SIZE     LAYER BYTES  ',
      'config.json                                            700 B    2048         ',
      'models/very/long/folder/st…00001-of-00002.safetensors  2.0 KiB  3072         lfs',
    ])
    expect(Math.max(...lines.slice(2, 5).map(textWidth))).to.equal(80)
  })
})

function plan(): PushPlan {
  return {
    params: {hfRepo: 'org/m', revision: 'main'} as PushPlan['params'],
    sha: 'a'.repeat(40),
    tag: 'aaaaaaaaaaaa',
    repoUrl: 'https://huggingface.co/org/m',
    files: [
      {path: 'config.json', size: 700, layerSize: 2048, oid: 'o'},
      {path: LONG, size: 2048, layerSize: 3072, oid: 'o', lfsSha256: 'b'.repeat(64)},
    ] as PushPlan['files'],
    totalBytes: 2748,
    totalLayerBytes: 5120,
    imageRef: 'localhost:5000/m:aaaaaaaaaaaa',
    warnings: [],
    profile: {name: 'generic', mode: 'stream'} as PushPlan['profile'],
  }
}
