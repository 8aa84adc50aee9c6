// The CLI as people meet it before a byte moves: help, flag errors and shell
// completion, from the built binary.
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {expect} from 'chai'
import {openStateDb} from '../../src/lib/state/db.js'
import {RunStore} from '../../src/lib/state/runs.js'
import {newRun} from '../lib/state/temp-db.js'
import {commandWorks, requireTools} from '../fixtures/require-tool.js'
import {ROOT, runCli} from './helpers.js'

const execFileP = promisify(execFile)

describe('e2e: help, flag errors and completion', function () {
  this.timeout(60_000)

  it('push --help: the required and target flags come first, then the rest by purpose (snapshot)', async () => {
    const res = await runCli(['push', '--help'], {})
    expect(res.code, res.stderr).to.equal(0)
    const sections = res.stdout.split('\n').filter((l) => /^[A-Z ]+$/.test(l))
    expect(sections.slice(0, 2)).to.deep.equal(['USAGE', 'FLAGS'])
    const flags = res.stdout.split('\nFLAGS\n')[1].split('\n\n')[0]
    expect(
      flags
        .split('\n')
        .filter((l) => l.startsWith('  --'))
        .map((l) => l.trim().split('=')[0]),
    ).to.deep.equal(['--hf-repo', '--registry', '--target-repo', '--to'])
    expect(res.stdout).to.equal(readFileSync(join(ROOT, 'test/e2e/snapshots/push-help.txt'), 'utf8'))
  })

  it('every command has an example', async () => {
    for (const command of ['push', 'resume', 'status', 'list', 'verify', 'completion']) {
      const res = await runCli([command, '--help'], {})
      expect(res.stdout, command).to.match(/\nEXAMPLES\n {2}.*modelcar /)
    }
  })

  it('a missing, unknown or wrong flag: one line of our own, exit 2', async () => {
    const missing = await runCli(['push', '--registry', 'r.example'], {})
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.equal('Error: missing --hf-repo: the Hugging Face repo to push, e.g. --hf-repo org/name\n')
    // --registry and --target-repo are required unless --to names a layout: said in the same form.
    const target = await runCli(['push', '--hf-repo', 'a/b'], {})
    expect(target.code).to.equal(2)
    expect(target.stderr).to.equal(
      'Error: missing --registry: the registry to push to, e.g. --registry host[:port]; ' +
        'missing --target-repo: the repository in the registry, e.g. --target-repo path/name (or --to oci:DIR to write an OCI image layout)\n',
    )
    const unknown = await runCli(['push', '--hf-rpo', 'a/b'], {})
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.equal('Error: unknown flag --hf-rpo (did you mean --hf-repo?): see `modelcar push --help`\n')
    const wrong = await runCli(['push', '--hf-repo', 'a/b', '--registry', 'r', '--target-repo', 't', '--log-style', 'fancy'], {})
    expect(wrong.code).to.equal(2)
    expect(wrong.stderr).to.equal('Error: --log-style must be one of auto, tty, text, azure, github (got "fancy")\n')
    const json = await runCli(['list', '--status', 'nope', '--json'], {})
    expect(json.code).to.equal(2)
    expect(JSON.parse(json.stdout)).to.deep.equal({
      error: {code: 'E_USAGE', message: '--status must be one of running, done, failed, interrupted (got "nope")', exitCode: 2},
    })
  })

  it('completion: flag values (--upload-mode, --log-style, list --status) and run ids, in a real bash', async () => {
    const stateDb = seedRuns(['org/a', 'org/b', 'org/c'])
    const script = (await runCli(['completion', 'bash'], {})).stdout
    expect(script).to.include('auto chunked stream monolithic')
    const file = join(mkdtempSync(join(tmpdir(), 'mc-comp-')), 'complete.bash')
    const bin = modelcarOnPath()
    writeFileSync(
      file,
      `${script}
try() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); COMPREPLY=(); _modelcar_complete; echo "\${COMPREPLY[*]}"; }
try modelcar pu
try modelcar push --upload-mode ''
try modelcar push --upload-mode = st
try modelcar resume --log-style ''
try modelcar list --status i
try modelcar push --log
try modelcar resume ''
try modelcar status ''
`,
    )
    const env = {PATH: `${join(bin, '..')}:${process.env.PATH}`, MODELCAR_STATE_DB: stateDb, HOME: tmpdir()}
    const {stdout} = await execFileP('bash', [file], {env})
    expect(stdout.split('\n')).to.deep.equal([
      'push',
      'auto chunked stream monolithic',
      'stream',
      'auto tty text azure github',
      'interrupted',
      '--log-style',
      '3 2 1',
      '3 2 1',
      '',
    ])
  })

  it('completion zsh: a native function completes commands, flag values and run ids, in a real zsh (tmux)', async function () {
    requireTools(
      this,
      commandWorks('zsh', ['--version']) && commandWorks('tmux', ['-V']),
      'zsh or tmux missing: apt-get install -y zsh tmux',
    )
    const stateDb = seedRuns(['org/a', 'org/b', 'org/c'])
    const otherDb = seedRuns(['org/d'])
    const script = (await runCli(['completion', 'zsh'], {})).stdout
    expect(script.split('\n')[0]).to.equal('#compdef modelcar')
    const bin = modelcarOnPath()
    const socket = `modelcar-zsh-${process.pid}`
    const tmux = (...args: string[]) => execFileP('tmux', ['-L', socket, ...args])
    const env = {PATH: `${join(bin, '..')}:${process.env.PATH}`, MODELCAR_STATE_DB: stateDb, HOME: tmpdir(), TERM: 'xterm'}
    const vars = Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    // zsh -f: no rc files, only compinit and the script, as a user's ~/.zshrc would have them.
    await tmux('new-session', '-d', '-x', '150', '-y', '30', '-s', 'zsh', `env -i ${vars.join(' ')} zsh -f`)
    try {
      await tmux('send-keys', '-t', 'zsh', `PS1='%% '; autoload -U compinit && compinit -u -D; eval "$(modelcar completion zsh)"`, 'Enter')
      /** Type `line`, press Tab, and return the screen from the prompt down once it shows what `done` waits for. */
      const complete = async (line: string, done: (screen: string[]) => boolean): Promise<string[]> => {
        await tmux('send-keys', '-t', 'zsh', 'C-u', 'clear', 'Enter')
        await tmux('send-keys', '-t', 'zsh', '-l', line)
        await tmux('send-keys', '-t', 'zsh', 'Tab')
        let screen: string[] = []
        for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
          const lines = (await tmux('capture-pane', '-p', '-t', 'zsh')).stdout.split('\n').filter((l) => l.trim() !== '')
          screen = lines.slice(lines.findLastIndex((l) => l.startsWith('% ')))
          if (done(screen)) return screen
        }
        throw new Error(`zsh did not complete ${JSON.stringify(line)}; screen:\n${screen.join('\n')}`)
      }
      const listed = (screen: string[]) => screen.slice(1).flatMap((l) => l.trim().split(/\s+/))
      const listing = async (line: string) =>
        listed(await complete(line, (screen) => screen[0] === `% ${line}`.trimEnd() && screen.length > 1))

      expect(await listing('modelcar resume ')).to.deep.equal(['3', '2', '1'])
      expect(await listing('modelcar status ')).to.deep.equal(['3', '2', '1'])
      expect(await listing('modelcar forget 3 ')).to.deep.equal(['2', '1'])
      expect(await listing('modelcar push --upload-mode ')).to.deep.equal(['auto', 'chunked', 'monolithic', 'stream'])
      expect(await listing('modelcar resume --log-style=')).to.deep.equal(['auto', 'azure', 'github', 'text', 'tty'])
      expect(await listing('modelcar list --status ')).to.deep.equal(['done', 'failed', 'interrupted', 'running'])
      // One candidate is inserted: a command name, a flag, the run id of the --state-db given on the line.
      await complete('modelcar pu', (screen) => screen[0] === '% modelcar push')
      await complete('modelcar push --upl', (screen) => screen[0] === '% modelcar push --upload-mode=')
      await complete(`modelcar status --state-db=${otherDb} `, (screen) => screen[0] === `% modelcar status --state-db=${otherDb} 1`)
    } finally {
      await tmux('kill-server').catch(() => undefined)
    }
  })
})

/** A state database holding one run per repo (ids 1, 2, …). */
function seedRuns(repos: string[]): string {
  const stateDb = join(mkdtempSync(join(tmpdir(), 'mc-comp-')), 'state.db')
  const db = openStateDb(stateDb)
  const runs = new RunStore(db)
  for (const repo of repos) runs.create(newRun({hfRepo: repo}))
  db.close()
  return stateDb
}

/** `modelcar` on PATH is the built CLI, as after npm link. Returns its path. */
function modelcarOnPath(): string {
  const bin = join(mkdtempSync(join(tmpdir(), 'mc-bin-')), 'modelcar')
  const run = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin/run.js'))}`
  writeFileSync(bin, `#!/bin/sh\nexec ${run} "$@"\n`, {mode: 0o755})
  return bin
}
