import {Args} from '@oclif/core'
import {BaseCommand} from '../lib/ui/base-command.js'
import {bashCompletion} from '../lib/ui/completion.js'

export default class Completion extends BaseCommand {
  static summary = 'Print a bash completion script: commands, flags, flag values and run ids.'
  static description =
    'Flag values (--upload-mode, --log-style, list --status, …) and the run ids of `resume` and `status` are completed' +
    ' too; run ids are read from the state database when you press Tab. zsh users can run `autoload -U +X bashcompinit && bashcompinit`' +
    ' first, or use `modelcar autocomplete zsh` (flag values, no run ids).'

  static examples = ['source <(<%= config.bin %> completion bash)', "echo 'source <(<%= config.bin %> completion bash)' >> ~/.bashrc"]
  static args = {shell: Args.string({description: 'Shell to complete in.', options: ['bash'], default: 'bash'})}
  static enableJsonFlag = false

  async run() {
    await this.parse(Completion)
    const commands = this.config.commands
      .filter((c) => !c.hidden && !c.id.startsWith('autocomplete'))
      .map((c) => ({
        id: c.id,
        flags: c.flags,
        runIdArg: 'runId' in (c.args ?? {}),
      }))
    process.stdout.write(
      bashCompletion(
        this.config.bin,
        commands.sort((a, b) => (a.id < b.id ? -1 : 1)),
      ),
    )
  }
}
