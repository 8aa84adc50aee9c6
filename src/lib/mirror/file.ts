// The mirror file (`modelcar mirror FILE`): a YAML catalogue of models, read
// strictly. Every unknown key, wrong type or duplicate is one line naming the
// entry and the key (models[2].target), so a typo never silently mirrors less.
import {readFileSync} from 'node:fs'
import {parseDocument} from 'yaml'
import {UsageError} from '../errors.js'

/** One entry with the defaults and the top-level registry applied; values not yet checked as push parameters. */
export interface MirrorEntrySpec {
  /** Position in `models:` (0-based), as messages and the summary name it. */
  index: number
  repo: string
  revisions: string[]
  target: string
  registry: string
  tags: string[]
  include: string[]
  exclude: string[]
  baseImage?: string
  platforms: string[]
  modelpack: boolean
  splitFiles: boolean
  workers: number
  chunkMiB?: number
  uploadMode: string
}

export interface MirrorFile {
  concurrency?: number
  entries: MirrorEntrySpec[]
}

type Kind = 'string' | 'strings' | 'boolean' | 'integer'

/** Keys an entry takes; `defaults` takes the same but the three that name one model. */
const ENTRY_KEYS: Record<string, Kind> = {
  repo: 'string',
  revision: 'strings',
  target: 'string',
  tags: 'strings',
  registry: 'string',
  include: 'strings',
  exclude: 'strings',
  'base-image': 'string',
  platforms: 'strings',
  modelpack: 'boolean',
  'split-files': 'boolean',
  workers: 'integer',
  'chunk-mib': 'integer',
  'upload-mode': 'string',
}
const PER_MODEL = new Set(['repo', 'target', 'tags'])
const DEFAULT_KEYS: Record<string, Kind> = Object.fromEntries(Object.entries(ENTRY_KEYS).filter(([k]) => !PER_MODEL.has(k)))
const TOP_KEYS: Record<string, Kind | 'map' | 'list'> = {registry: 'string', concurrency: 'integer', defaults: 'map', models: 'list'}

export const MAX_CONCURRENCY = 16

export function readMirrorFile(path: string): MirrorFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(`Cannot read the mirror file ${path} (${code ?? 'unreadable'}): check the path.`, 'E_MIRROR_FILE')
  }
  return parseMirrorFile(text, path)
}

/** `name` is how messages call the file (its path). */
export function parseMirrorFile(text: string, name = 'mirror file'): MirrorFile {
  const fail = (what: string) => new UsageError(`${name}: ${what}`, 'E_MIRROR_FILE')
  const doc = parseDocument(text, {uniqueKeys: true})
  const problem = doc.errors[0]
  // yaml's message is "<what> at line L, column C:" and then a snippet: the first line is enough.
  if (problem) throw fail(`${problem.message.split('\n')[0].replace(/:$/, '')} (not valid YAML).`)
  const top: unknown = doc.toJS()
  if (!isMap(top)) throw fail('must be a map with a `models:` list (see README, "Mirroring a catalogue").')
  checkKeys(top, TOP_KEYS, '', fail)
  const registry = optional(top, 'registry', 'string', 'registry', fail) as string | undefined
  const concurrency = optional(top, 'concurrency', 'integer', 'concurrency', fail) as number | undefined
  if (concurrency !== undefined && (concurrency < 1 || concurrency > MAX_CONCURRENCY))
    throw fail(`concurrency must be from 1 to ${MAX_CONCURRENCY} (got ${concurrency}).`)
  if (top.defaults !== undefined && !isMap(top.defaults)) throw fail(`defaults must be a map (got ${typeName(top.defaults)}).`)
  const defaults = top.defaults ?? {}
  checkKeys(defaults, DEFAULT_KEYS, 'defaults', fail, PER_MODEL)
  for (const key of Object.keys(defaults)) checkType(defaults[key], DEFAULT_KEYS[key], `defaults.${key}`, fail)
  if (!Array.isArray(top.models)) throw fail(`models must be a list of entries (got ${typeName(top.models)}).`)
  if (top.models.length === 0) throw fail('models is empty: list at least one entry.')
  const entries = top.models.map((raw, i) => entrySpec(raw, i, defaults, registry, fail))
  return {...(concurrency === undefined ? {} : {concurrency}), entries}
}

function entrySpec(
  raw: unknown,
  index: number,
  defaults: Record<string, unknown>,
  topRegistry: string | undefined,
  fail: (what: string) => UsageError,
): MirrorEntrySpec {
  const at = `models[${index}]`
  if (!isMap(raw)) throw fail(`${at} must be a map with repo and target (got ${typeName(raw)}).`)
  checkKeys(raw, ENTRY_KEYS, at, fail)
  for (const key of Object.keys(raw)) checkType(raw[key], ENTRY_KEYS[key], `${at}.${key}`, fail)
  for (const key of ['repo', 'target']) if (raw[key] === undefined) throw fail(`${at}: ${key} is missing.`)
  const value = (key: string) => (raw[key] !== undefined ? raw[key] : defaults[key])
  const list = (key: string) => strings(value(key))
  const registry = (value('registry') as string | undefined) ?? topRegistry
  if (registry === undefined) throw fail(`${at}: no registry: set registry at the top of the file, in defaults, or on the entry.`)
  const revisions = list('revision')
  if (value('revision') !== undefined && revisions.length === 0) throw fail(`${at}.revision is an empty list: name at least one.`)
  const workers = value('workers') as number | undefined
  const chunkMiB = value('chunk-mib') as number | undefined
  const baseImage = value('base-image') as string | undefined
  return {
    index,
    repo: raw.repo as string,
    revisions: revisions.length > 0 ? revisions : ['main'],
    target: raw.target as string,
    registry,
    tags: strings(raw.tags),
    include: list('include'),
    exclude: list('exclude'),
    ...(baseImage === undefined ? {} : {baseImage}),
    platforms: list('platforms'),
    modelpack: value('modelpack') === true,
    splitFiles: value('split-files') === true,
    workers: workers ?? 4,
    ...(chunkMiB === undefined ? {} : {chunkMiB}),
    uploadMode: (value('upload-mode') as string | undefined) ?? 'auto',
  }
}

function checkKeys(
  map: Record<string, unknown>,
  known: Record<string, unknown>,
  at: string,
  fail: (what: string) => UsageError,
  perModel: Set<string> = new Set(),
): void {
  for (const key of Object.keys(map)) {
    if (key in known) continue
    if (perModel.has(key)) throw fail(`${at}.${key} cannot be a default: it names one model; set it on each entry.`)
    throw fail(`${at ? `${at}: ` : ''}unknown key ${JSON.stringify(key)} (known: ${Object.keys(known).join(', ')}).`)
  }
}

function optional(map: Record<string, unknown>, key: string, kind: Kind, at: string, fail: (what: string) => UsageError): unknown {
  if (map[key] !== undefined) checkType(map[key], kind, at, fail)
  return map[key]
}

function checkType(v: unknown, kind: Kind, at: string, fail: (what: string) => UsageError): void {
  const ok =
    kind === 'string'
      ? typeof v === 'string' && v.trim() !== ''
      : kind === 'strings'
        ? (typeof v === 'string' && v.trim() !== '') || (Array.isArray(v) && v.every((s) => typeof s === 'string' && s.trim() !== ''))
        : kind === 'boolean'
          ? typeof v === 'boolean'
          : Number.isInteger(v)
  if (ok) return
  const want = {
    string: 'a non-empty string',
    strings: 'a string or a list of non-empty strings',
    boolean: 'true or false',
    integer: 'a whole number',
  }[kind]
  throw fail(`${at} must be ${want} (got ${typeName(v)}).`)
}

function strings(v: unknown): string[] {
  if (v === undefined) return []
  return (Array.isArray(v) ? (v as string[]) : [v as string]).map((s) => s.trim())
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'nothing'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a map'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  return `${typeof v === 'number' ? 'the number' : 'the value'} ${JSON.stringify(v)}`
}
