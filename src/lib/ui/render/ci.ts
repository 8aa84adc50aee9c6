// The push in a CI log: Azure Pipelines and GitHub Actions logging commands.
// Each finished file gets a collapsed group (groups never interleave, although
// files run in parallel), failures become the pipeline's errors, and a push
// that succeeded exports manifestDigest, imageRef and imageRefDigest as step
// outputs. Text from outside (paths, error messages) is escaped so it can
// never become a command of its own.
import {appendFileSync} from 'node:fs'
import type {PushEvents} from '../../push/events.js'
import type {PushResult} from '../../push/execute.js'
import {bytes} from '../format.js'
import {errorMessage, logPushLines, PushTally, type PushView, type ViewOptions} from './tally.js'

/** The step outputs, named as the README's recipes read them. */
export function stepOutputs(result: PushResult): Array<[string, string]> {
  return [
    ['manifestDigest', result.manifestDigest],
    ['imageRef', result.imageRef],
    ['imageRefDigest', result.imageRefDigest],
  ]
}

interface Dialect {
  /** A heading for the push as a whole. */
  section(title: string): string
  group(title: string): string
  endGroup: string
  error(message: string): string
  warning(message: string): string
  /** Overall progress in percent, where the CI shows it. */
  progress?(percent: number): string
  /** Publish the outputs; returns lines to log. */
  outputs(result: PushResult): string[]
  /** Any other line, defused. */
  plain(line: string): string
}

/** Azure: `%`, CR and LF are escaped in a command's message; `;` and `]` too in its properties. */
const azureData = (text: string) => text.replaceAll('%', '%AZP25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
const azureProperty = (text: string) => azureData(text).replaceAll(';', '%3B').replaceAll(']', '%5D')
/** The agent reads `##vso[` anywhere in a line and `##[` at its start: plain text must not carry either. */
const azurePlain = (text: string) => oneLine(text).replaceAll('##vso[', '##vso [').replace(/^##\[/, '## [')

export const azure: Dialect = {
  section: (title) => `##[section]${azurePlain(title)}`,
  group: (title) => `##[group]${azurePlain(title)}`,
  endGroup: '##[endgroup]',
  error: (message) => `##vso[task.logissue type=error]${azureData(message)}`,
  warning: (message) => `##vso[task.logissue type=warning]${azureData(message)}`,
  progress: (percent) => `##vso[task.setprogress value=${percent};]modelcar push`,
  outputs: (result) =>
    stepOutputs(result).map(([name, value]) => `##vso[task.setvariable variable=${name};isOutput=true]${azureProperty(value)}`),
  plain: azurePlain,
}

/** GitHub: `%`, CR and LF are escaped in a command's message. */
const githubData = (text: string) => text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
/** The runner reads a command at the start of a line (after blanks). */
const githubPlain = (text: string) => oneLine(text).replace(/^(\s*)::/, '$1: :')

export function github(outputFile = process.env.GITHUB_OUTPUT): Dialect {
  return {
    section: githubPlain,
    group: (title) => `::group::${githubData(oneLine(title))}`,
    endGroup: '::endgroup::',
    error: (message) => `::error::${githubData(message)}`,
    warning: (message) => `::warning::${githubData(message)}`,
    outputs(result) {
      // Values are single lines (digests and references), so `name=value` needs no heredoc delimiter.
      if (outputFile)
        appendFileSync(
          outputFile,
          stepOutputs(result)
            .map(([name, value]) => `${name}=${oneLine(value)}\n`)
            .join(''),
        )
      return []
    },
    plain: githubPlain,
  }
}

function oneLine(text: string): string {
  return text.replaceAll(/[\r\n]+/g, ' ')
}

export function ciView(events: PushEvents, dialect: Dialect, opts: ViewOptions & {heartbeatMs?: number}): PushView {
  const tally = new PushTally(events, opts.clock ?? Date.now)
  const log = (line: string) => opts.stream.write(`${line}\n`)
  let percent = -1
  const progress = () => {
    if (!dialect.progress || tally.totalBytes === 0) return
    const now = Math.floor((tally.moved / tally.totalBytes) * 100)
    if (now > percent) log(dialect.progress((percent = now)))
  }

  events.on('plan', (plan) => {
    const what = `${plan.files.length} file${plan.files.length === 1 ? '' : 's'}, ${bytes(plan.totalBytes)}`
    log(dialect.section(`Pushing ${plan.params.hfRepo}@${plan.sha.slice(0, 12)} to ${plan.imageRef} (${what})`))
  })
  logPushLines(
    events,
    (line) => log(dialect.plain(line)),
    opts.verbose,
    (warning) => log(dialect.warning(warning)),
  )
  const finished = (lines: string[]) => {
    for (const line of lines) log(line)
    progress()
  }
  events.on('fileDone', (file, result) =>
    finished([
      dialect.group(tally.finishedTitle(file, result, 'uploaded')),
      dialect.plain(`${file.path}: uploaded as ${result.digest}`),
      dialect.endGroup,
    ]),
  )
  const how = {exists: 'already in the registry as', mounted: 'mounted from another repository as'}
  events.on('fileSkipped', (file, result, outcome) =>
    finished([
      dialect.group(tally.finishedTitle(file, result, outcome)),
      dialect.plain(`${file.path}: ${how[outcome]} ${result.digest}`),
      dialect.endGroup,
    ]),
  )
  events.on('fileFailed', (file, error) => log(dialect.error(`${file.path}: ${errorMessage(error)}`)))
  const heartbeat = setInterval(() => {
    if (tally.files === 0) return
    log(dialect.plain(tally.heartbeat()))
    progress()
  }, opts.heartbeatMs ?? 10_000)
  heartbeat.unref()
  return {
    async close(result) {
      clearInterval(heartbeat)
      if (!result) return
      log(dialect.plain(tally.summary(result)))
      for (const line of dialect.outputs(result)) log(line)
    },
  }
}
