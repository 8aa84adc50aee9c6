// Drive the built CLI (bin/run.js → dist/) and read back what it pushed with
// real, independent clients: skopeo and umoci.
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {expect} from 'chai'
import {fileSha256, type SimFile} from '../fixtures/hub/index.js'
import {commandWorks, requireTools} from '../fixtures/require-tool.js'

const execFileP = promisify(execFile)
export const ROOT = new URL('../..', import.meta.url).pathname

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Run `modelcar` asynchronously (the fixtures answer from this process). */
export function runCli(args: string[], env: NodeJS.ProcessEnv, opts: {timeoutMs?: number} = {}): Promise<CliRun> {
  return startCli(args, env, opts).done
}

const running = new Set<ChildProcess>()

/** Kill every CLI a test started and left running (call it in afterEach). */
export function killStrayClis(): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

/** Start `modelcar` and keep a handle on the process (to signal or kill it). */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: {timeoutMs?: number} = {},
): {child: ChildProcess; done: Promise<CliRun>} {
  const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    env: {...cleanEnv(), ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  const done = new Promise<CliRun>((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({code, signal, stdout, stderr})
    })
  })
  return {child, done}
}

/** Poll until `check` returns a value (bounded). */
export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The environment without anything that could leak real credentials into a test. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const k of ['PATH', 'LANG', 'TERM', 'SYSTEMROOT']) if (process.env[k]) env[k] = process.env[k]
  const home = mkdtempSync(join(tmpdir(), 'mc-home-'))
  return {...env, HOME: home, XDG_RUNTIME_DIR: home, DOCKER_CONFIG: join(home, '.docker'), NO_COLOR: '1'}
}

/** A state database path in a fresh temporary folder (each test its own run history). */
export function tempStateDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'mc-state-')), 'state.db')
}

export function outputValue(stdout: string, key: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(`${key}=`))
  if (!line) throw new Error(`no ${key}= line in output:\n${stdout}`)
  return line.slice(key.length + 1)
}

export interface OciLayout {
  dir: string
  /** The tag (index.json ref.name) the image is read under. */
  tag: string
  manifest: {
    mediaType: string
    config: {digest: string; mediaType: string; size: number}
    layers: Array<{digest: string; mediaType: string; size: number; annotations: Record<string, string>}>
    annotations: Record<string, string>
  }
  manifestBytes: Buffer
  config: {rootfs: {diff_ids: string[]; type: string}; architecture: string; os: string}
  blob(digest: string): Buffer
}

/** skopeo copy docker://… oci:DIR, keeping the uncompressed layers as pushed. */
export async function skopeoCopy(ref: string, creds?: string): Promise<OciLayout> {
  const dir = mkdtempSync(join(tmpdir(), 'mc-oci-'))
  const args = [
    'copy',
    '--src-tls-verify=false',
    '--dest-oci-accept-uncompressed-layers',
    ...(creds ? ['--src-creds', creds] : []),
    `docker://${ref}`,
    `oci:${dir}:img`,
  ]
  await execFileP('skopeo', args, {maxBuffer: 16 << 20})
  return readLayout(dir, 'img')
}

/** The image an OCI image layout names `tag` (written by skopeo, or by modelcar push --to oci:DIR). */
export function readLayout(dir: string, tag: string): OciLayout {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'))
  const entry = index.manifests.find(
    (m: {annotations?: Record<string, string>}) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  )
  if (!entry) throw new Error(`${dir}/index.json has no tag ${tag}`)
  const blob = (digest: string) => readFileSync(join(dir, 'blobs', ...digest.split(':')))
  const manifestBytes = blob(entry.digest)
  const manifest = JSON.parse(manifestBytes.toString())
  return {dir, tag, manifest, manifestBytes, config: JSON.parse(blob(manifest.config.digest).toString()), blob}
}

/** umoci unpack the layout into a bundle; returns the rootfs path. */
export async function umociUnpack(layout: OciLayout): Promise<string> {
  const bundle = join(mkdtempSync(join(tmpdir(), 'mc-bundle-')), 'b')
  await execFileP('umoci', ['unpack', '--rootless', '--image', `${layout.dir}:${layout.tag}`, bundle], {maxBuffer: 16 << 20})
  return join(bundle, 'rootfs')
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export async function haveTools(): Promise<boolean> {
  try {
    await execFileP('skopeo', ['--version'])
    await execFileP('umoci', ['--version'])
    return true
  } catch {
    return false
  }
}

/**
 * Read an image back with skopeo and umoci and check it holds exactly these
 * files' bytes: every blob hashes to its digest, diff_ids equal the layer
 * digests, and each unpacked file hashes to the simulator's content.
 */
export async function expectImageHolds(
  ref: string | OciLayout,
  files: SimFile[],
  opts: {creds?: string; manifestDigest?: string} = {},
): Promise<{layout: OciLayout; rootfs: string}> {
  const layout = typeof ref === 'string' ? await skopeoCopy(ref, opts.creds) : ref
  if (opts.manifestDigest) expect(`sha256:${sha256Hex(layout.manifestBytes)}`).to.equal(opts.manifestDigest)
  expect(layout.config.rootfs.diff_ids).to.deep.equal(layout.manifest.layers.map((l) => l.digest))
  for (const layer of layout.manifest.layers) {
    const bytes = layout.blob(layer.digest)
    expect(`sha256:${sha256Hex(bytes)}`).to.equal(layer.digest)
    expect(bytes.length).to.equal(layer.size)
  }
  const rootfs = await umociUnpack(layout)
  for (const file of files) {
    const content = readFileSync(join(rootfs, 'models', file.path))
    expect(content.length, file.path).to.equal(file.size)
    expect(sha256Hex(content), file.path).to.equal(await fileSha256(file))
  }
  return {layout, rootfs}
}

/**
 * The end-to-end tests need the real registry and clients. Locally they are
 * skipped with a hint when missing; in CI (CI=true) a missing tool is a
 * failure, never a silent skip.
 */
export async function requireRealTools(ctx: Mocha.Context): Promise<void> {
  const {registryAvailable} = await import('../fixtures/registry/index.js')
  requireTools(ctx, registryAvailable() && commandWorks('openssl', ['version']) && (await haveTools()))
}
