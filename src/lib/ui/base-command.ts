// Shared behaviour of every modelcar command: --json support and one-line
// errors. A ModelcarError prints "Error: <message>" (or a JSON error document
// under --json) and exits with its own code; a flag or argument error from the
// parser gets the same one line and exit 2; anything else is a bug and keeps
// oclif's full report.
import {Command, Errors} from '@oclif/core'
import {EXIT, ModelcarError} from '../errors.js'
import {usageLine, type UsageHints} from './usage-error.js'

export abstract class BaseCommand extends Command {
  static enableJsonFlag = true
  /** What each required flag is for, in its missing-flag error. */
  static usageHints?: UsageHints

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof ModelcarError) {
      if (this.jsonEnabled()) this.logJson({error: {code: error.code, message: error.message, exitCode: error.exitCode}})
      else process.stderr.write(`Error: ${error.message}\n`)
      this.exit(error.exitCode)
    }
    if (error instanceof Errors.ExitError) throw error
    if (error instanceof Errors.CLIError && 'parse' in error) {
      const message = usageLine(error, this.ctor, this.config.bin)
      if (this.jsonEnabled()) this.logJson({error: {code: 'E_USAGE', message, exitCode: EXIT.usage}})
      else process.stderr.write(`Error: ${message}\n`)
      this.exit(EXIT.usage)
    }
    if (this.jsonEnabled() && error instanceof Errors.CLIError) {
      this.logJson({error: {code: 'E_USAGE', message: error.message, exitCode: error.oclif?.exit ?? 2}})
      this.exit(error.oclif?.exit ?? 2)
    }
    return super.catch(error)
  }
}
