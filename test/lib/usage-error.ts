// The one check every validator test makes: the call throws a UsageError, of
// the usage exit code, in one line.
import {expect} from 'chai'
import {EXIT, UsageError} from '../../src/lib/errors.js'

export function usageError(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError)
    const e = error as UsageError
    expect(e.exitCode).to.equal(EXIT.usage)
    expect(e.message).to.not.include('\n')
    return e
  }
  throw new Error('expected a UsageError')
}
