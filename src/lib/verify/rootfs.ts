// The filesystem a container runtime would assemble from an image's layers:
// tar entries applied in order, whiteouts (.wh.name) and opaque directories
// (.wh..wh..opq) honoured, hard links resolved to what they link. Only
// metadata is kept; file contents are read past.
import type {TarEntry} from '../layer/tar-reader.js'
import {stripDotSlash} from './hygiene.js'

export interface FsNode {
  type: TarEntry['type']
  mode: number
  linkpath: string
}

const WHITEOUT = '.wh.'
const OPAQUE = '.wh..wh..opq'
const MAX_HOPS = 40

export class MergedFs {
  readonly nodes = new Map<string, FsNode>()

  /** One layer's entries, in archive order, over the layers applied before it. */
  apply(entries: TarEntry[]): void {
    const lower = new Set(this.nodes.keys())
    for (const e of entries) {
      const path = normalise(e.path)
      const slash = path.lastIndexOf('/')
      const dir = slash === -1 ? '' : path.slice(0, slash)
      const base = path.slice(slash + 1)
      if (base === OPAQUE) {
        for (const key of lower) if (dir === '' || key.startsWith(`${dir}/`)) this.nodes.delete(key)
      } else if (base.startsWith(WHITEOUT)) {
        this.remove(`${dir ? `${dir}/` : ''}${base.slice(WHITEOUT.length)}`)
      }
    }
    for (const e of entries) {
      const path = normalise(e.path)
      const base = path.slice(path.lastIndexOf('/') + 1)
      if (path === '' || base.startsWith(WHITEOUT)) continue
      if (e.type === 'hardlink') {
        const target = this.nodes.get(normalise(e.linkpath))
        if (target) this.nodes.set(path, target)
        continue
      }
      // A file replacing a directory hides what the directory held.
      if (e.type !== 'directory' && this.nodes.get(path)?.type === 'directory') this.remove(path)
      this.nodes.set(path, {type: e.type, mode: e.mode, linkpath: e.linkpath})
    }
  }

  /** Whether `path` is a directory: its own entry says so, or something lives under it. */
  isDirectory(path: string): boolean {
    const node = this.nodes.get(path)
    if (node) return node.type === 'directory'
    for (const key of this.nodes.keys()) if (key.startsWith(`${path}/`)) return true
    return false
  }

  /**
   * Follows symbolic links in every component of an absolute path, as the
   * kernel would inside the container. Undefined when it does not resolve.
   */
  resolve(path: string): {path: string; node: FsNode | undefined} | undefined {
    let pending = normalise(path).split('/').filter(Boolean)
    const done: string[] = []
    let hops = 0
    while (pending.length > 0) {
      const part = pending.shift()!
      if (part === '.') continue
      if (part === '..') {
        done.pop()
        continue
      }
      const here = [...done, part].join('/')
      const node = this.nodes.get(here)
      if (node?.type === 'symlink') {
        if (++hops > MAX_HOPS) return undefined
        const target = node.linkpath.split('/').filter(Boolean)
        if (node.linkpath.startsWith('/')) done.length = 0
        pending = [...target, ...pending]
        continue
      }
      if (!node && !this.isDirectory(here)) return undefined
      if (pending.length > 0 && !this.isDirectory(here)) return undefined
      done.push(part)
    }
    const at = done.join('/')
    return {path: at, node: this.nodes.get(at)}
  }

  private remove(path: string): void {
    this.nodes.delete(path)
    for (const key of [...this.nodes.keys()]) if (key.startsWith(`${path}/`)) this.nodes.delete(key)
  }
}

function normalise(path: string): string {
  return stripDotSlash(path.replace(/^\/+/, ''))
}
