// The error `modelcar verify` ends with when the image is wrong (exit 4) or
// could not be fully checked (exit 1). It carries the whole result so --json
// can still print it; its message names each wrong blob and file.
import {ModelcarError} from '../errors.js'
import {problemLines} from './classify.js'
import type {VerifyResult} from './types.js'

export class VerifyFailedError extends ModelcarError {
  constructor(readonly result: VerifyResult) {
    const what = result.verdict === 'wrong' ? 'is not what it claims' : 'could not be fully checked'
    const top = result.blobs[0]
    // Nothing under the reference at all: say so, not "a blob is missing".
    const absent = result.blobs.length === 1 && top.result === 'missing' && !top.digest
    const message = absent
      ? `${result.reference} does not exist: ${top.problems[0]?.detail ?? 'the registry has no manifest'}; check the repository and tag, or push the image.`
      : `${result.reference} ${what}: ${problemLines(result).join('; ')}`
    super(message, {
      code: result.verdict === 'wrong' ? 'E_IMAGE_WRONG' : 'E_VERIFY_UNCHECKED',
      exitCode: result.exitCode,
    })
    this.name = 'VerifyFailedError'
  }
}
