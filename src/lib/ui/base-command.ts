// Shared behaviour of every modelcar command: --json support and one-line
// errors. A ModelcarError prints "Error: <message>" (or a JSON error document
// under --json) and exits with its own code; anything else is a bug and keeps
// oclif's full report.
import {Command, Errors} from '@oclif/core'
import {ModelcarError} from '../errors.js'

export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof ModelcarError) {
      if (this.jsonEnabled()) this.logJson({error: {code: error.code, message: error.message, exitCode: error.exitCode}})
      else process.stderr.write(`Error: ${error.message}\n`)
      this.exit(error.exitCode)
    }
    if (error instanceof Errors.ExitError) throw error
    if (this.jsonEnabled() && error instanceof Errors.CLIError) {
      this.logJson({error: {code: 'E_USAGE', message: error.message, exitCode: error.oclif?.exit ?? 2}})
      this.exit(error.oclif?.exit ?? 2)
    }
    return super.catch(error)
  }
}
