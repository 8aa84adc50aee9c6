// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per package/module.
import {readFile} from 'node:fs/promises'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileLine {
  name: string
  where: string
  selfMs: number
  pct: number
}

export interface ProfileSummary {
  totalMs: number
  functions: ProfileLine[]
  modules: ProfileLine[]
}

function shortUrl(url: string): string {
  if (!url) return ''
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length)
  const m = /\/(dist|src)\/(.*)$/.exec(url)
  if (m) return `${m[1]}/${m[2]}`
  return url.replace(/^file:\/\//, '')
}

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)'
  if (url.startsWith('node:')) return 'node: internals'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const m = /\/dist\/(.*)$/.exec(url)
  return m ? `modelcar dist/${m[1].replace(/\/[^/]+$/, '/')}` : url
}

export async function summariseProfiles(paths: string[], top = 15): Promise<ProfileSummary> {
  const byFn = new Map<string, ProfileLine>()
  const byModule = new Map<string, ProfileLine>()
  let totalMs = 0
  for (const p of paths) {
    const prof = JSON.parse(await readFile(p, 'utf8')) as Profile
    const nodes = new Map(prof.nodes.map((n) => [n.id, n]))
    const selfUs = new Map<number, number>()
    for (let i = 0; i < prof.samples.length; i++) {
      // timeDeltas[i] is the time before sample i; attribute the following interval to sample i (the usual approximation)
      const dt = prof.timeDeltas[i + 1] ?? 0
      selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt)
    }
    for (const [id, us] of selfUs) {
      const n = nodes.get(id)!
      const fn = n.callFrame.functionName || '(anonymous)'
      const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''
      const key = `${fn}@${where}`
      const ms = us / 1000
      totalMs += ms
      const line = byFn.get(key) ?? {name: fn, where, selfMs: 0, pct: 0}
      line.selfMs += ms
      byFn.set(key, line)
      const mod = moduleOf(n.callFrame.url, fn)
      const ml = byModule.get(mod) ?? {name: mod, where: '', selfMs: 0, pct: 0}
      ml.selfMs += ms
      byModule.set(mod, ml)
    }
  }
  const finish = (m: Map<string, ProfileLine>) =>
    [...m.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((l) => ({...l, selfMs: Math.round(l.selfMs), pct: totalMs ? Math.round((1000 * l.selfMs) / totalMs) / 10 : 0}))
  return {totalMs: Math.round(totalMs), functions: finish(byFn), modules: finish(byModule)}
}
