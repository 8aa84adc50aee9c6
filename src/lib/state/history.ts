// The services behind `modelcar list` and `modelcar status`: open the state
// database, read the runs asked for, and return them as typed results.
import {UsageError} from '../errors.js'
import {openStateDbForReading} from './db.js'
import {detail, summarize, unfinished, type RunDetail, type RunSummary} from './report.js'
import {RunStore, type RunStatus} from './runs.js'

export interface ListParams {
  stateDb: string
  /** A Hugging Face repo or a target repository. */
  repo?: string
  status?: RunStatus
  limit: number
}

export interface ListResult {
  runs: RunSummary[]
}

export interface StatusParams {
  stateDb: string
  /** One run, finished or not; without it, every unfinished run. */
  runId?: number
}

export interface StatusResult {
  runs: RunDetail[]
}

/** Push history, newest first. */
export function listRuns(params: ListParams): ListResult {
  return withRuns(params.stateDb, (runs) => {
    // 'interrupted' includes runs whose process died while 'running': filter after summarizing.
    const interrupted = params.status === 'interrupted'
    const rows = runs.list({repo: params.repo, status: interrupted ? undefined : params.status, limit: interrupted ? 10_000 : params.limit})
    return {
      runs: rows
        .map(summarize)
        .filter((r) => !params.status || r.status === params.status)
        .slice(0, params.limit),
    }
  })
}

/** One run in detail, or every unfinished one. */
export function runStatus(params: StatusParams): StatusResult {
  return withRuns(params.stateDb, (runs) => {
    if (params.runId === undefined) return {runs: unfinished(runs)}
    const run = runs.get(params.runId)
    if (!run) throw new UsageError(`Run ${params.runId} does not exist: see \`modelcar list\`.`, 'E_NO_RUN')
    return {runs: [detail(runs, run)]}
  })
}

function withRuns<T>(stateDb: string, read: (runs: RunStore) => T): T {
  const state = openStateDbForReading(stateDb)
  try {
    return read(new RunStore(state.db))
  } finally {
    state.close()
  }
}
