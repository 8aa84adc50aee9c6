// What `modelcar forget` and `modelcar prune` print on stdout: one line per
// run removed, and what was left alone.
import type {ForgetResult, ForgottenRun, PruneResult} from '../state/forget.js'

export function renderForget(result: ForgetResult): string {
  return result.runs.map(line).join('\n')
}

export function renderPrune(result: PruneResult): string {
  const which = `${result.statuses.join(' or ')} runs older than ${age(result.olderThanMs)}`
  if (result.runs.length === 0) return `Nothing to prune: no ${which}.`
  const n = result.runs.length
  return [...result.runs.map(line), `Pruned ${n} ${n === 1 ? 'run' : 'runs'} (${which}).`].join('\n')
}

function line(run: ForgottenRun): string {
  return `Forgot run ${run.id} (${run.status}, ${run.hfRepo} → ${run.target}, ${run.files} ${run.files === 1 ? 'file' : 'files'})`
}

/** 2592000000 → '30d': the largest unit that divides it. */
function age(ms: number): string {
  for (const [unit, size] of [
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${Math.round(ms / 1000)}s`
}
