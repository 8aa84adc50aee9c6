// Own SIGINT/SIGTERM: abort the work through a signal so transfers stop and
// state is checkpointed, then exit 130/143. A second signal exits at once.
import {EXIT, ModelcarError} from '../errors.js'

/** `hint` says how to continue; a function is asked when the signal comes (the run id may be known by then). */
export async function withSignals<T>(
  work: (signal: AbortSignal) => Promise<T>,
  hint: string | (() => string) = 'Run the same command again to continue.',
): Promise<T> {
  const controller = new AbortController()
  let received: NodeJS.Signals | undefined
  const onSignal = (sig: NodeJS.Signals) => {
    if (received) process.exit(sig === 'SIGINT' ? EXIT.interrupted : EXIT.terminated)
    received = sig
    controller.abort(
      new ModelcarError(`Interrupted by ${sig}. ${typeof hint === 'function' ? hint() : hint}`, {
        code: 'E_INTERRUPTED',
        exitCode: sig === 'SIGINT' ? EXIT.interrupted : EXIT.terminated,
      }),
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await work(controller.signal)
  } catch (error) {
    if (received) throw controller.signal.reason
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
