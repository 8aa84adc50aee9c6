// Flag values → validated verify params. Every check throws a UsageError
// (exit 2) that names the flag and says what would be accepted.
import {UsageError} from '../errors.js'
import {networkParams} from '../ui/common-flags.js'
import {parseLayoutReference} from '../oci/layout-reference.js'
import {parseImageReference} from '../oci/reference.js'
import {validateWorkers} from '../push/params.js'
import {CONSUMERS, type Consumer} from './consumers.js'
import type {VerifyParams} from './service.js'

export {MAX_WORKERS} from '../push/params.js'

export interface VerifyFlags {
  deep?: boolean
  'against-hf'?: boolean
  workers: number
  include?: string[]
  exclude?: string[]
  'max-retries': number
  'stall-timeout': number
  'tls-verify': string
  for?: string[]
}

export function verifyParams(ref: string, flags: VerifyFlags): VerifyParams {
  validateWorkers(flags.workers)
  if ((flags.include?.length || flags.exclude?.length) && !flags['against-hf']) {
    throw new UsageError('--include and --exclude only apply with --against-hf (they say which Hub files the image should hold).')
  }
  return {
    reference: parseLayoutReference(ref) ?? parseImageReference(ref),
    deep: flags.deep ?? false,
    againstHf: flags['against-hf'] ?? false,
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    workers: flags.workers,
    ...consumersParam(flags.for),
    ...networkParams(flags),
  }
}

/** --for: comma-separated, repeatable; each a consumer verify knows. */
function consumersParam(values: string[] | undefined): {for?: Consumer[]} {
  const wanted = [
    ...new Set(
      (values ?? [])
        .flatMap((f) => f.split(','))
        .map((f) => f.trim())
        .filter(Boolean),
    ),
  ]
  const unknown = wanted.filter((w) => !(CONSUMERS as readonly string[]).includes(w))
  if (unknown.length > 0) throw new UsageError(`--for ${unknown.join(',')} is not a consumer verify knows: use ${CONSUMERS.join(', ')}.`)
  return wanted.length > 0 ? {for: wanted as Consumer[]} : {}
}
