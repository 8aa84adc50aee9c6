// Flag values → a validated verify request. Every check throws a UsageError
// (exit 2) that names the flag and says what would be accepted.
import {UsageError} from '../errors.js'
import {parseImageReference} from '../oci/reference.js'
import {validateWorkers} from '../push/flags.js'
import type {VerifyRequest} from './service.js'

export {MAX_WORKERS} from '../push/flags.js'

export interface VerifyFlags {
  deep?: boolean
  'against-hf'?: boolean
  workers: number
  include?: string[]
  exclude?: string[]
  'max-retries': number
  'stall-timeout'?: number
}

export function verifyRequest(ref: string, flags: VerifyFlags): VerifyRequest {
  validateWorkers(flags.workers)
  if ((flags.include?.length || flags.exclude?.length) && !flags['against-hf']) {
    throw new UsageError('--include and --exclude only apply with --against-hf (they say which Hub files the image should hold).')
  }
  return {
    reference: parseImageReference(ref),
    deep: flags.deep ?? false,
    againstHf: flags['against-hf'] ?? false,
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    workers: flags.workers,
    maxRetries: flags['max-retries'],
    stallTimeoutS: flags['stall-timeout'],
  }
}
