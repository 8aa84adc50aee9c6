// Progress of a --deep verify on stderr: a line every 10 s with the bytes
// read so far, and retries when --verbose. stdout keeps only the result.
// The text log style starts each line with its ISO time; --quiet prints none.
import type {VerifyEvents} from '../verify/service.js'
import {bytes, rate} from './format.js'

interface VerifyProgressOptions {
  verbose?: boolean
  stream?: NodeJS.WritableStream
  everyMs?: number
  timestamps?: boolean
  quiet?: boolean
}

export function verifyProgress(opts: VerifyProgressOptions = {}): VerifyEvents & {stop(): void} {
  const out = opts.stream ?? process.stderr
  const stream = {
    write: (line: string) => {
      if (!opts.quiet) out.write(opts.timestamps ? `${new Date().toISOString()} ${line}` : line)
    },
  }
  const started = Date.now()
  let total = 0
  let read = 0
  const timer = setInterval(() => {
    if (total > 0) stream.write(`verify: ${bytes(read)} of ${bytes(total)} read (${rate(read, Date.now() - started)})\n`)
  }, opts.everyMs ?? 10_000)
  timer.unref()
  return {
    expect: (n) => (total = n),
    bytes: (n) => (read += n),
    retry: (line) => {
      if (opts.verbose) stream.write(`retry: ${line}\n`)
    },
    route: (line) => {
      if (opts.verbose) stream.write(`route: ${line}\n`)
    },
    stop: () => clearInterval(timer),
  }
}
