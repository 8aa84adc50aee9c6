import {expect} from 'chai'
import type {RunDetail, RunSummary} from '../../../src/lib/state/report.js'
import {renderRunList, renderStatus} from '../../../src/lib/ui/runs-render.js'

const summary: RunSummary = {
  id: 7,
  status: 'done',
  hfRepo: 'org/model',
  revision: 'main',
  sha: 'abcdef0123456789abcdef0123456789abcdef01',
  target: 'localhost:5000/models/m:v1',
  manifestDigest: `sha256:0123456789abcdef${'0'.repeat(48)}`,
  files: 2,
  bytesTotal: 3 * 1024 * 1024,
  bytesUploaded: 0,
  bytesReread: 0,
  attempts: 1,
  startedAt: '2026-01-02T03:04:05.000Z',
  finishedAt: '2026-01-02T03:05:06.000Z',
  durationSeconds: 61,
  error: null,
}

const GiB = 1024 ** 3
const detail: RunDetail = {
  ...summary,
  id: 12,
  status: 'failed',
  attempts: 2,
  error: '1 file failed',
  bytesTotal: 5 * GiB + 7680,
  fileStates: [
    {path: 'config.json', state: 'done', size: 700, layerSize: 2048, bytesDone: 2048, digest: 'sha256:1', error: null},
    {path: 'model.safetensors', state: 'in progress', size: 5 * GiB, layerSize: 5 * GiB + 2048, bytesDone: GiB, digest: null, error: null},
    {path: 'tokenizer.json', state: 'failed', size: 2048, layerSize: 4096, bytesDone: 0, digest: null, error: 'HTTP 500'},
    {path: 'z', state: 'pending', size: 0, layerSize: 1536, bytesDone: 0, digest: null, error: null},
  ],
  bytesDone: GiB + 2048,
  bytesLeft: 4 * GiB + 5632,
  resumeCommand: 'modelcar resume 12',
}

describe('ui/runs-render', () => {
  it('lists runs as a table: short sha or revision, short digest or "-", sizes, durations, start time', () => {
    const interrupted: RunSummary = {
      ...summary,
      id: 12,
      status: 'interrupted',
      sha: null,
      revision: 'refs/pr/1',
      manifestDigest: null,
      bytesTotal: 512,
      durationSeconds: 3725,
    }
    expect(renderRunList({runs: [summary, interrupted]}).split('\n')).to.deep.equal([
      'ID  STATUS       SOURCE                  TARGET                      DIGEST               BYTES    TIME   STARTED',
      '7   done         org/model@abcdef012345  localhost:5000/models/m:v1  sha256:0123456789ab  3.0 MiB  1m01s  2026-01-02 03:04:05',
      '12  interrupted  org/model@refs/pr/1     localhost:5000/models/m:v1  -                    512 B    1h02m  2026-01-02 03:04:05',
    ])
  })

  it('says when there is no history', () => {
    expect(renderRunList({runs: []})).to.equal('No pushes recorded yet.')
  })

  it('shows each run with its files, totals and how to resume, runs separated by a blank line', () => {
    const running: RunDetail = {
      ...detail,
      id: 13,
      status: 'running',
      owner: {pid: 4242, host: 'box'},
      error: null,
      fileStates: [],
      resumeCommand: null,
    }
    expect(renderStatus({runs: [detail, running]}).split('\n')).to.deep.equal([
      'Run 12  failed  org/model@abcdef012345 → localhost:5000/models/m:v1',
      '  started 2026-01-02T03:04:05.000Z, attempt 2, last error: 1 file failed',
      '',
      '  FILE               STATE                           SIZE',
      '  config.json        done                            700 B',
      '  model.safetensors  in progress 1.0 GiB of 5.0 GiB  5.0 GiB',
      '  tokenizer.json     failed: HTTP 500                2.0 KiB',
      '  z                  pending                         0 B',
      '',
      '  1.0 GiB done, 4.0 GiB left of 5.0 GiB',
      '  Resume with: modelcar resume 12',
      '',
      'Run 13  running (process 4242 on box)  org/model@abcdef012345 → localhost:5000/models/m:v1',
      '  started 2026-01-02T03:04:05.000Z, attempt 2',
      '',
      '  FILE  STATE  SIZE',
      '',
      '  1.0 GiB done, 4.0 GiB left of 5.0 GiB',
    ])
  })

  it('says when nothing is unfinished', () => {
    expect(renderStatus({runs: []})).to.equal('No unfinished pushes.')
  })
})
