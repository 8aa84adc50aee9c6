// The layers of src/lib import downwards only: the push never reaches into
// the UI, and the OCI client and the state store know nothing of the push.
import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/lib')

/** Every module a folder's files import (relative imports, resolved to folders of src/lib). */
function importsOf(folder: string): Array<{file: string; target: string}> {
  const found: Array<{file: string; target: string}> = []
  for (const name of readdirSync(join(LIB, folder), {recursive: true}) as string[]) {
    if (!name.endsWith('.ts')) continue
    const file = join(LIB, folder, name)
    const source = readFileSync(file, 'utf8')
    // `import … from '…'` and `export … from '…'` (over several lines too), bare `import '…'`, and `import('…')`.
    const from = String.raw`^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]`
    const bare = String.raw`^\s*import\s+['"]([^'"]+)['"]`
    const dynamic = String.raw`\bimport\(\s*['"]([^'"]+)['"]\s*\)`
    const specifiers = new RegExp(`${from}|${bare}|${dynamic}`, 'gm')
    for (const m of source.matchAll(specifiers)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (!spec.startsWith('.')) continue
      found.push({file: relative(LIB, file), target: relative(LIB, resolve(dirname(file), spec))})
    }
  }
  return found
}

function offending(folder: string, forbidden: string[]): string[] {
  return importsOf(folder)
    .filter((i) => forbidden.some((f) => i.target === f || i.target.startsWith(`${f}/`)))
    .map((i) => `${i.file} imports ${i.target}`)
}

describe('layering of src/lib', () => {
  it('reads the import lines it checks (the check is not vacuous)', () => {
    const push = importsOf('push')
    expect(push.map((i) => i.target)).to.include.members(['oci/client.js', 'state/runs.js', 'push/pool.js'])
    expect(importsOf('ui').map((i) => i.target)).to.include('push/events.js')
  })

  it('nothing in push/ imports from ui/', () => {
    expect(offending('push', ['ui'])).to.deep.equal([])
  })

  it('oci/ and state/ import neither push/ nor ui/', () => {
    expect(offending('oci', ['push', 'ui'])).to.deep.equal([])
    expect(offending('state', ['push', 'ui'])).to.deep.equal([])
  })
})
