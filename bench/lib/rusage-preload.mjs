// Fallback when /usr/bin/time is missing: a node child writes its own resourceUsage() on exit.
import {writeFileSync} from 'node:fs'

process.once('exit', () => {
  if (process.env.BENCH_RUSAGE_OUT) writeFileSync(process.env.BENCH_RUSAGE_OUT, JSON.stringify(process.resourceUsage()))
})
