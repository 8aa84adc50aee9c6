import {expect} from 'chai'
import {openStateDb} from '../../../src/lib/state/db.js'
import {ModeStore} from '../../../src/lib/state/modes.js'
import {tempDb} from './temp-db.js'

describe('state/modes', () => {
  it('remembers the last mode learnt per registry', () => {
    const {db, path} = tempDb()
    const modes = new ModeStore(db)
    expect(modes.get('https://ghcr.io')).to.equal(undefined)
    modes.set('https://ghcr.io', 'stream', 'a chunk was answered 413')
    modes.set('http://localhost:5000', 'stream', 'x')
    modes.set('http://localhost:5000', 'monolithic', 'PATCH answered 405')
    expect(modes.get('https://ghcr.io')).to.deep.equal({mode: 'stream', reason: 'a chunk was answered 413'})
    expect(modes.get('http://localhost:5000')).to.deep.equal({mode: 'monolithic', reason: 'PATCH answered 405'})
    db.close()
    expect(new ModeStore(openStateDb(path)).get('https://ghcr.io')).to.deep.equal({mode: 'stream', reason: 'a chunk was answered 413'})
  })
})
