// Errors a user can act on. Each carries a one-line message that names the
// problem and the fix, a stable code for --json output, and an exit code.
// Anything that is not a ModelcarError is a bug and is reported as such.

export const EXIT = {
  failure: 1, // the work failed (network, registry refused, file failed)
  usage: 2, // bad flags or input: nothing was attempted
  locked: 3, // another process drives this run
  imageWrong: 4, // verify: the image is not what it claims
  interrupted: 130, // SIGINT
  terminated: 143, // SIGTERM
} as const

export class ModelcarError extends Error {
  readonly code: string
  readonly exitCode: number

  constructor(message: string, opts: {code?: string; exitCode?: number; cause?: unknown} = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'ModelcarError'
    this.code = opts.code ?? 'E_FAILED'
    this.exitCode = opts.exitCode ?? EXIT.failure
  }
}

/** Bad flags or input: the message says what is wrong and how to fix it. */
export class UsageError extends ModelcarError {
  constructor(message: string, code = 'E_USAGE') {
    super(message, {code, exitCode: EXIT.usage})
    this.name = 'UsageError'
  }
}

/** Inputs are echoed in messages up to this many characters. */
const ECHO_MAX = 120

/** A user's input quoted JSON-style for a message, shortened when very long. */
export function quoteInput(s: string): string {
  return JSON.stringify(s.length > ECHO_MAX ? `${s.slice(0, ECHO_MAX)}…` : s)
}

/** An error's message, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
