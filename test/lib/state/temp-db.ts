// A state database in a fresh temporary directory, and a run in it.
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {openStateDb, type DB} from '../../../src/lib/state/db.js'
import {RunStore, type NewRun} from '../../../src/lib/state/runs.js'

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mc-state-unit-'))
}

export function tempDb(): {db: DB; path: string} {
  const path = join(tempDir(), 'state.db')
  return {db: openStateDb(path), path}
}

export function newRun(over: Partial<NewRun> = {}): NewRun {
  return {
    pushKey: 'key-1',
    hfSha: 'c'.repeat(40),
    hfEndpoint: 'https://huggingface.co',
    hfRepo: 'org/model',
    hfRevision: 'main',
    registry: 'localhost:5000',
    targetRepo: 'models/m',
    targetTag: 'v1',
    params: {workers: 4},
    ...over,
  }
}

export function storeWithRun(over: Partial<NewRun> = {}): {runs: RunStore; id: number; db: DB} {
  const {db} = tempDb()
  const runs = new RunStore(db)
  return {runs, id: runs.create(newRun(over)), db}
}
