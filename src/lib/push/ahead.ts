// What the end of a push would otherwise wait for, done while the last layers
// still move. After the last layer's commit only the config and the manifest
// remain, and over a WAN each round trip between them is the push's own wall
// time: the layers' HEADs after commit and the config's upload session are
// taken off that path.
import type {RegistryClient} from '../oci/client.js'
import type {PlannedFile} from './plan.js'

/**
 * Each uploaded layer's HEAD after its commit (does the registry hold it
 * whole?), run beside the worker's next file instead of before it; all are
 * awaited before the manifest that names the layers.
 */
export class LandingChecks {
  private readonly checks: Array<Promise<{file: PlannedFile; error: unknown} | undefined>> = []

  add(file: PlannedFile, check: Promise<void>): void {
    this.checks.push(
      check.then(
        () => undefined,
        (error: unknown) => ({file, error}),
      ),
    )
  }

  /** The layers whose check failed, once every check has answered. */
  async failures(): Promise<Array<{file: PlannedFile; error: unknown}>> {
    return (await Promise.all(this.checks)).filter((f) => f !== undefined)
  }
}

/** Open the config's session when this many layer bytes are left to move (a few seconds at most over any link a push runs on). */
export const CONFIG_SESSION_AHEAD_BYTES = 64 * 1024 * 1024

/**
 * The config's upload session, opened when the push has taken its last file
 * and has at most CONFIG_SESSION_AHEAD_BYTES left to move, so its POST
 * overlaps the last layers. Never opened earlier: a session left open for the
 * whole of a long push may be expired by the registry (the config push then
 * opens a fresh one).
 */
export class ConfigSessionAhead {
  private left: number
  private readonly leftOf = new Map<string, number>()
  private untaken: number
  private session: Promise<{location: URL}> | undefined
  private opened = false

  constructor(
    private readonly registry: RegistryClient,
    files: PlannedFile[],
  ) {
    this.untaken = files.length
    this.left = files.reduce((n, f) => n + f.layerSize, 0)
    for (const f of files) this.leftOf.set(f.path, f.layerSize)
  }

  taken(): void {
    this.untaken--
    this.maybeOpen()
  }

  /** Layer bytes of `file` moved so far (they may go back on a restart); its layer size once it is done or skipped. */
  moved(file: PlannedFile, bytes: number): void {
    const before = this.leftOf.get(file.path)
    if (before === undefined) return
    const now = Math.max(0, file.layerSize - bytes)
    this.leftOf.set(file.path, now)
    this.left += now - before
    this.maybeOpen()
  }

  /** The session for the config, if one was opened; whoever takes it owns it. */
  take(): Promise<{location: URL}> | undefined {
    const session = this.session
    this.session = undefined
    return session
  }

  /** A session nobody took (the push failed): give it back to the registry. */
  async close(): Promise<void> {
    const location = await this.take()?.then(
      (s) => s.location,
      () => undefined,
    )
    if (location) await this.registry.cancelUpload(location).catch(() => undefined)
  }

  private maybeOpen(): void {
    if (this.opened || this.untaken > 0 || this.left > CONFIG_SESSION_AHEAD_BYTES) return
    this.opened = true
    this.session = this.registry.startUpload()
    this.session.catch(() => undefined) // the config push opens its own if this one failed
  }
}
