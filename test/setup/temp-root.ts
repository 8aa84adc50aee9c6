// One temporary folder per test run, removed when the run ends. Tests (and
// the registries, proxies and podman stores they start) make their state
// databases, layouts and homes under os.tmpdir(), which follows TMPDIR; left
// where they were made, every full run kept ~2 GiB in /tmp, and a machine
// that ran the suite often filled its disk.
import {chmodSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const root = mkdtempSync(join(tmpdir(), 'modelcar-tests-'))
// Others may pass through (not list): tests run the CLI as another user in folders of their own.
chmodSync(root, 0o711)
process.env.TMPDIR = root

export const mochaHooks = {
  afterAll(): void {
    rmSync(root, {recursive: true, force: true, maxRetries: 3})
  },
}
