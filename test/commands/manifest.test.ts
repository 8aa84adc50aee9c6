// oclif.manifest.json wins over the code when oclif loads commands: a stale
// one makes bin/dev.js and the tests run old flags. It must describe exactly
// the commands and flags in src/commands.
import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../e2e/helpers.js'

interface ManifestCommand {
  flags: Record<string, {type: string; default?: unknown}>
  args: Record<string, unknown>
}

describe('oclif.manifest.json', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestCommand>}
  const sources = readdirSync(join(ROOT, 'src/commands'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))

  it('lists every command in src/commands and no other', () => {
    expect(Object.keys(manifest.commands).sort()).to.deep.equal([...sources].sort())
  })

  for (const id of sources) {
    it(`has the flags and args of ${id} as the source declares them`, async () => {
      const {default: command} = await import(join(ROOT, 'src/commands', `${id}.ts`))
      const declared = {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: {}} : {})}
      expect(Object.keys(manifest.commands[id].flags).sort()).to.deep.equal(Object.keys(declared).sort())
      expect(Object.keys(manifest.commands[id].args ?? {}).sort()).to.deep.equal(Object.keys(command.args ?? {}).sort())
      for (const [name, flag] of Object.entries<{default?: unknown}>(declared)) {
        if (typeof flag.default !== 'function')
          expect(manifest.commands[id].flags[name].default, `${id} --${name}`).to.deep.equal(flag.default)
      }
    })
  }

  it('bakes no path of the build machine into defaults', () => {
    expect(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).not.to.include(process.env.HOME ?? '/root')
  })
})
