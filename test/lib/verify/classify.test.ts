import {expect} from 'chai'
import {exitCodeOf, finish, problemLines, verdictOf, worst} from '../../../src/lib/verify/classify.js'
import type {BlobReport, HubComparison, Problem, ProblemKind} from '../../../src/lib/verify/types.js'

const D = (c: string) => `sha256:${c.repeat(64)}`

function blob(kind: BlobReport['kind'], problems: Array<[ProblemKind, string]> = [], extra: Partial<BlobReport> = {}): BlobReport {
  return {
    kind,
    digest: D('a'),
    size: 1,
    mediaType: 'x',
    result: 'ok',
    problems: problems.map(([k, detail]): Problem => ({kind: k, detail})),
    notes: [],
    ...extra,
  }
}

describe('verify/classify', () => {
  it('names a blob by its worst problem', () => {
    expect(worst([])).to.equal('ok')
    expect(
      worst([
        {kind: 'hygiene', detail: ''},
        {kind: 'digest mismatch', detail: ''},
        {kind: 'unchecked', detail: ''},
      ]),
    ).to.equal('digest mismatch')
    expect(
      worst([
        {kind: 'unchecked', detail: ''},
        {kind: 'content mismatch', detail: ''},
      ]),
    ).to.equal('content mismatch')
    expect(
      worst([
        {kind: 'size mismatch', detail: ''},
        {kind: 'missing', detail: ''},
      ]),
    ).to.equal('missing')
    expect(worst([{kind: 'unchecked', detail: ''}])).to.equal('unchecked')
  })

  it('is wrong (4) when anything checked is wrong, even if other checks could not run; unchecked (1); ok (0)', () => {
    const ok = blob('layer')
    const wrong = {...blob('layer'), result: 'hygiene' as const}
    const unchecked = {...blob('layer'), result: 'unchecked' as const}
    expect(verdictOf([ok, ok])).to.equal('ok')
    expect(verdictOf([ok, unchecked])).to.equal('unchecked')
    expect(verdictOf([unchecked, wrong])).to.equal('wrong')
    const hubOk: HubComparison = {repo: 'a/b', revision: 'r', files: [{path: 'x', result: 'ok'}]}
    const hubWrong: HubComparison = {repo: 'a/b', revision: 'r', files: [{path: 'x', result: 'missing from image'}]}
    const hubError: HubComparison = {repo: '', revision: '', files: [], error: 'no provenance'}
    expect(verdictOf([ok], [hubOk])).to.equal('ok')
    expect(verdictOf([ok], [hubWrong])).to.equal('wrong')
    expect(verdictOf([ok], [hubError])).to.equal('unchecked')
    expect(verdictOf([ok], [hubError, hubWrong])).to.equal('wrong')
    expect([exitCodeOf('ok'), exitCodeOf('unchecked'), exitCodeOf('wrong')]).to.deep.equal([0, 1, 4])
  })

  it('fills in results, verdict and counts', () => {
    const result = finish({reference: 'r/x:1', deep: false}, [
      blob('manifest'),
      blob('config', [['content mismatch', 'diff_ids']]),
      blob('layer', [['missing', '404']], {title: 'a.bin', digest: D('b')}),
      blob('layer', [['unchecked', 'HTTP 500']]),
    ])
    expect(result.blobs.map((b) => b.result)).to.deep.equal(['ok', 'content mismatch', 'missing', 'unchecked'])
    expect(result).to.include({verdict: 'wrong', exitCode: 4})
    expect(result.summary).to.deep.equal({
      blobs: 4,
      ok: 1,
      wrong: 2,
      unchecked: 1,
      byResult: {ok: 1, 'content mismatch': 1, missing: 1, unchecked: 1},
    })
    expect(problemLines(result)).to.deep.equal([
      `config aaaaaaaaaaaa: content mismatch (diff_ids)`,
      `layer bbbbbbbbbbbb (a.bin): missing (404)`,
      `layer aaaaaaaaaaaa: unchecked (HTTP 500)`,
    ])
  })

  it('lists Hub problems after blob problems and caps the list', () => {
    const files = Array.from({length: 8}, (_, i) => ({path: `f${i}`, result: 'unexpected' as const, detail: 'not in the Hub commit'}))
    const result = finish({reference: 'r', deep: false}, [blob('manifest')], [{repo: 'a/b', revision: 'c'.repeat(40), files}])
    const lines = problemLines(result, 3)
    expect(lines).to.deep.equal([
      'Hub file f0: unexpected (not in the Hub commit)',
      'Hub file f1: unexpected (not in the Hub commit)',
      'Hub file f2: unexpected (not in the Hub commit)',
      '… and 5 more',
    ])
    expect(result.summary).to.include({hubFiles: 8, hubWrong: 8})
  })
})
