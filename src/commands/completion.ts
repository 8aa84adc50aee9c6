import {Args} from '@oclif/core'
import {BaseCommand} from '../lib/ui/base-command.js'
import {completionScript, SHELLS, type Shell} from '../lib/ui/completion.js'

export default class Completion extends BaseCommand {
  static summary = 'Print a bash or zsh completion script: commands, flags, flag values and run ids.'
  static description =
    'Flag values (--upload-mode, --log-style, list --status, …) and the run ids of `resume`, `status` and `forget` are completed' +
    ' too; run ids are read from the state database when you press Tab. zsh gets a native completion function: eval it in' +
    ' ~/.zshrc after compinit, or save it as _modelcar in a folder on $fpath.'

  static examples = [
    'source <(<%= config.bin %> completion bash)',
    "echo 'source <(<%= config.bin %> completion bash)' >> ~/.bashrc",
    'echo \'eval "$(<%= config.bin %> completion zsh)"\' >> ~/.zshrc',
    '<%= config.bin %> completion zsh > "${fpath[1]}/_<%= config.bin %>"',
  ]

  static args = {shell: Args.string({description: 'Shell to complete in.', options: [...SHELLS], default: 'bash'})}
  static enableJsonFlag = false

  async run() {
    const {args} = await this.parse(Completion)
    const commands = this.config.commands
      .filter((c) => !c.hidden && !c.id.startsWith('autocomplete'))
      .map((c) => ({id: c.id, summary: c.summary ?? c.description, flags: c.flags, args: c.args, variadic: c.strict === false}))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
    process.stdout.write(completionScript(args.shell as Shell, this.config.bin, commands))
  }
}
