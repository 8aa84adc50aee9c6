// The error `modelcar verify` ends with when the image is wrong (exit 4) or
// could not be fully checked (exit 1). It carries the whole result so --json
// can still print it; its message names each wrong blob and file.
import {ModelcarError} from '../errors.js'
import {problemLines} from './classify.js'
import type {VerifyResult} from './types.js'

export class VerifyFailedError extends ModelcarError {
  constructor(readonly result: VerifyResult) {
    const what = result.verdict === 'wrong' ? 'is not what it claims' : 'could not be fully checked'
    super(`${result.reference} ${what}: ${problemLines(result).join('; ')}`, {
      code: result.verdict === 'wrong' ? 'E_IMAGE_WRONG' : 'E_VERIFY_UNCHECKED',
      exitCode: result.exitCode,
    })
    this.name = 'VerifyFailedError'
  }
}
