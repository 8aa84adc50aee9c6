// Progress of a --deep verify on stderr: a line every 10 s with the bytes
// read so far, and retries when --verbose. stdout keeps only the result.
import {bytes, rate} from '../ui/format.js'
import type {VerifyEvents} from './service.js'

export function verifyProgress(opts: {verbose?: boolean; stream?: NodeJS.WritableStream; everyMs?: number} = {}): VerifyEvents & {stop(): void} {
  const stream = opts.stream ?? process.stderr
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
    stop: () => clearInterval(timer),
  }
}
