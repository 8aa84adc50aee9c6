// The JSON Schemas in schemas/ (shipped in the npm package) checked with ajv:
// every command's --json output must match its command's schema.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import {expect} from 'chai'
import {ROOT} from './helpers.js'

export const SCHEMA_DIR = join(ROOT, 'schemas')

/** schemas/<command>.schema.json; a topic command (a:b) is a-b. */
export const schemaFile = (commandId: string) => `${commandId.replaceAll(':', '-')}.schema.json`

let ajv: Ajv2020 | undefined

/** Every schema in schemas/, compiled strictly (an unknown keyword or a bad $ref is an error, not ignored). */
export function schemas(): Ajv2020 {
  if (ajv) return ajv
  ajv = new Ajv2020({strict: true, allErrors: true})
  addFormats.default(ajv)
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')))
  }
  return ajv
}

/** Parse a command's stdout as one JSON document and check it against the command's schema; returns the document. */
export function expectSchemaValid(commandId: string, stdout: string): Record<string, any> {
  const doc = JSON.parse(stdout)
  const validate = schemas().getSchema(schemaFile(commandId))
  if (!validate) throw new Error(`no schema ${schemaFile(commandId)} in ${SCHEMA_DIR}`)
  const ok = validate(doc)
  expect(ok, `${commandId} --json does not match ${schemaFile(commandId)}: ${schemas().errorsText(validate.errors)}\n${stdout}`).to.equal(
    true,
  )
  return doc
}
