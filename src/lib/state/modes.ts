// Upload modes learnt per registry, so the next push starts in the mode that
// worked instead of being refused again.
import type {UploadMode} from '../oci/profiles.js'
import {writeTx, type DB} from './db.js'

export class ModeStore {
  constructor(readonly db: DB) {}

  get(registry: string): {mode: UploadMode; reason: string} | undefined {
    return this.db.prepare('SELECT mode, reason FROM registry_modes WHERE registry = ?').get(registry) as
      {mode: UploadMode; reason: string} | undefined
  }

  set(registry: string, mode: UploadMode, reason: string): void {
    const stmt = this.db.prepare(
      `INSERT INTO registry_modes (registry, mode, reason, learned_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(registry) DO UPDATE SET mode = excluded.mode, reason = excluded.reason, learned_at = excluded.learned_at`,
    )
    writeTx(this.db, () => stmt.run(registry, mode, reason, Date.now()))
  }
}
