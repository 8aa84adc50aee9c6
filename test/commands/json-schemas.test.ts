// Every command that takes --json has a JSON Schema in schemas/, so a new
// command cannot skip one; each schema compiles strictly and tells outputs apart.
import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../e2e/helpers.js'
import {SCHEMA_DIR, schemaFile, schemas} from '../e2e/json-schemas.js'

describe('JSON Schemas of --json outputs', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {enableJsonFlag?: boolean; flags: Record<string, unknown>}>
  }
  const withJson = Object.entries(manifest.commands)
    .filter(([, c]) => c.enableJsonFlag || 'json' in c.flags)
    .map(([id]) => id)

  it('finds the commands that take --json', () => {
    expect(withJson).to.include.members(['push', 'resume', 'status', 'list', 'verify', 'ls', 'forget', 'prune'])
  })

  for (const id of withJson) {
    it(`has schemas/${schemaFile(id)} for ${id}, with its $id`, () => {
      const file = join(SCHEMA_DIR, schemaFile(id))
      expect(existsSync(file), `${id} takes --json: add ${file}`).to.equal(true)
      expect(JSON.parse(readFileSync(file, 'utf8')).$id).to.equal(schemaFile(id))
      expect(schemas().getSchema(schemaFile(id))).to.be.a('function')
    })
  }

  it('ships schemas/ in the npm package', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files).to.include('schemas')
  })

  it('accepts the error document of any command and refuses a near miss', () => {
    const error = {error: {code: 'E_NO_RUN', message: 'Run 9 does not exist: see `modelcar list`.', exitCode: 2}}
    for (const id of withJson) expect(schemas().validate(schemaFile(id), error), id).to.equal(true)
    expect(schemas().validate(schemaFile('list'), {error: {...error.error, exitCode: 0}})).to.equal(false)
    expect(schemas().validate(schemaFile('list'), {error: error.error, extra: 1})).to.equal(false)
    expect(schemas().validate(schemaFile('list'), {runs: [{id: 1}]})).to.equal(false)
  })
})
