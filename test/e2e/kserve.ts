// KServe's modelcar (sidecar) mode, run for real in an image's root filesystem.
// The commands are KServe's own, from kserve/kserve pkg/utils/utils.go
// (CreateModelcarInitContainer, CreateModelcarContainer; the same strings since
// v0.14's pkg/webhook/admission/pod/storage_initializer_injector.go), as the shell
// receives them: Kubernetes turns the `$$` of container args into `$`, so KServe
// writes `$$(ls -A /models)` and `$$$$` for what the shell sees as `$(ls ...)` and `$$`.
// The pod around them: an emptyDir at /mnt (the parent of /mnt/models) in the
// modelcar and the server container, and a shared PID namespace, through which the
// server reads /mnt/models -> /proc/<modelcar sh>/root/models.
import {execFile, spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {promisify} from 'node:util'
import {chrootSh} from './podman.js'

const execFileP = promisify(execFile)

/** The init container's script for `image`: fails unless /models exists and is not empty. */
export const kserveInit = (image: string) =>
  `echo 'Pre-fetching modelcar ${image}: ' && [ -d /models ] && [ "$(ls -A /models)" ] && echo 'OK ... Prefetched and valid (/models exists)' || (echo 'NOK ... Prefetched but modelcar is invalid (/models does not exist or is empty)' && exit 1)`

/** The modelcar sidecar's script (KServe's DefaultModelLocalMountPath is /mnt/models). */
export const KSERVE_SIDECAR = 'ln -sf /proc/$$/root/models /mnt/models && sleep infinity'

export async function runKServeInit(rootfs: string, image: string) {
  return chrootSh(rootfs, kserveInit(image))
}

/**
 * Starts the sidecar script in `rootfs` (chroot, the image's own shell) over an
 * emptyDir-like tmpfs at /mnt, waits (bounded) for its link, and returns what the
 * server container would see: the link target and the entries of /mnt/models,
 * read through /proc/<pid>/root as the server reads them. Then stops it.
 */
export async function runKServeSidecar(rootfs: string): Promise<{pid: number; link: string; entries: string[]; stillRunning: boolean}> {
  const mnt = join(rootfs, 'mnt')
  // The runtime creates the mount point of the emptyDir; a tmpfs keeps the image store untouched.
  if (!existsSync(mnt)) mkdirSync(mnt)
  await execFileP('mount', ['-t', 'tmpfs', 'tmpfs', mnt])
  await execFileP('mount', ['-t', 'proc', 'proc', join(rootfs, 'proc')])
  const chroot = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((p) => existsSync(p)) ?? 'chroot'
  const child = spawn(chroot, [rootfs, '/bin/sh', '-c', KSERVE_SIDECAR], {env: {PATH: '/bin'}, detached: true, stdio: 'ignore'})
  let exited = false
  child.on('exit', () => (exited = true))
  try {
    const link = join(mnt, 'models')
    for (let i = 0; i < 100 && !existsSync(link) && !exited; i++) await sleep(50)
    if (!existsSync(link)) throw new Error(`the sidecar made no /mnt/models link${exited ? ` (it exited with ${child.exitCode})` : ''}`)
    const target = readlinkSync(link)
    // The server container resolves the absolute target in the shared PID namespace: so do we.
    const entries = readdirSync(target).sort()
    await sleep(200)
    return {pid: child.pid!, link: target, entries, stillRunning: !exited}
  } finally {
    if (!exited && child.pid) process.kill(-child.pid, 'SIGKILL')
    for (let i = 0; i < 100 && !exited; i++) await sleep(20)
    await execFileP('umount', [join(rootfs, 'proc')]).catch(() => undefined)
    await execFileP('umount', [mnt]).catch(() => undefined)
  }
}
