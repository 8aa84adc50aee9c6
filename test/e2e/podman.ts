// podman as a real consumer of pushed images: pull into throwaway storage
// (vfs, temp --root/--runroot, so nothing leaks into the machine's store),
// mount the image's root filesystem, and run KServe's own commands in it
// with chroot (containers cannot start here; chroot can).
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {requireTools} from '../fixtures/require-tool.js'

const execFileP = promisify(execFile)

async function havePodmanTools(): Promise<boolean> {
  try {
    await execFileP('podman', ['--version'])
    await execFileP('busybox', ['true'])
    return true
  } catch {
    return false
  }
}

/** A missing podman or busybox fails (as requireRealTools); these tests also need root (chroot, mount), and skip without it. */
export async function requirePodman(ctx: Mocha.Context): Promise<void> {
  requireTools(ctx, await havePodmanTools(), 'podman or busybox-static missing: install them with `apt-get install podman busybox-static`')
  if (process.getuid?.() !== 0) {
    console.warn('    podman consumer tests need root (chroot, mount): run npm test as root to cover them')
    ctx.skip()
  }
}

export class Podman {
  private readonly dir = mkdtempSync(join(tmpdir(), 'mc-podman-'))

  async run(args: string[]): Promise<string> {
    const base = [
      '--root',
      join(this.dir, 'root'),
      '--runroot',
      join(this.dir, 'run'),
      '--storage-driver',
      'vfs',
      '--events-backend',
      'file',
      '--cgroup-manager',
      'cgroupfs',
    ]
    const {stdout} = await execFileP('podman', [...base, ...args], {maxBuffer: 16 << 20, env: {...process.env, TMPDIR: this.dir}})
    return stdout.trim()
  }

  /** Pull `ref` (plain-HTTP registry) and mount its root filesystem; returns the mount path. */
  async pullAndMount(ref: string, platform?: string): Promise<string> {
    await this.run(['pull', '--quiet', '--tls-verify=false', ...(platform ? ['--platform', platform] : []), ref])
    return this.run(['image', 'mount', ref])
  }

  async close(): Promise<void> {
    await this.run(['image', 'unmount', '--all']).catch(() => undefined)
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** `sh -c script` inside `rootfs` with the image's own shell; /proc mounted for the sidecar's /proc/$$/root. */
export async function chrootSh(rootfs: string, script: string): Promise<{code: number; stdout: string; stderr: string}> {
  await execFileP('mount', ['-t', 'proc', 'proc', join(rootfs, 'proc')])
  try {
    // The image's PATH inside; chroot itself is found on ours.
    const chroot = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((p) => existsSync(p)) ?? 'chroot'
    const {stdout, stderr} = await execFileP(chroot, [rootfs, '/bin/sh', '-c', script], {env: {PATH: '/bin'}})
    return {code: 0, stdout, stderr}
  } catch (error) {
    const e = error as {code?: number; stdout?: string; stderr?: string}
    return {code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? ''}
  } finally {
    await execFileP('umount', [join(rootfs, 'proc')]).catch(() => undefined)
  }
}
