// Build: compile src/ into a fresh folder, swap it in as dist/, then
// regenerate oclif.manifest.json from it, so the manifest can never describe
// older commands than the code. A failed compile leaves dist/ and the
// manifest as they were.
import {execFileSync} from 'node:child_process'
import {renameSync, rmSync} from 'node:fs'

const run = (cmd, args) => execFileSync(cmd, args, {stdio: 'inherit'})
rmSync('dist.next', {recursive: true, force: true})
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', 'dist.next'])
rmSync('dist', {recursive: true, force: true})
renameSync('dist.next', 'dist')
run(process.execPath, ['node_modules/oclif/bin/run.js', 'manifest'])
