import {Args} from '@oclif/core'
import {listImageFiles} from '../lib/inspect/files.js'
import {parseLayoutReference} from '../lib/oci/layout-reference.js'
import {parseImageReference} from '../lib/oci/reference.js'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags} from '../lib/ui/common-flags.js'
import {renderLs} from '../lib/ui/ls-render.js'
import {terminalWidth} from '../lib/ui/text-width.js'

export default class Ls extends BaseCommand {
  static summary = 'List the files of a modelcar image from its manifest: path, layer size, sha256 and layer digest.'
  static description = [
    "Reads only the manifest (each platform's for an index); no layer is downloaded.",
    'Layers without a file annotation (images modelcar did not push) are listed apart.',
  ].join(' ')

  static examples = [
    '<%= config.bin %> ls registry.example.com/models/qwen3:0123456789ab',
    '<%= config.bin %> ls localhost:5000/models/tiny@sha256:… --json',
    '<%= config.bin %> ls oci:./model-layout:latest',
  ]

  static args = {
    ref: Args.string({
      description:
        'Image: registry/repository:tag or registry/repository@sha256:… (an http:// or https:// prefix forces the scheme), or oci:DIR:tag for an OCI image layout.',
      required: true,
    }),
  }

  static flags = {'max-retries': networkFlags['max-retries'], 'stall-timeout': networkFlags['stall-timeout']}

  async run() {
    const {args, flags} = await this.parse(Ls)
    const reference = parseLayoutReference(args.ref) ?? parseImageReference(args.ref)
    const result = await listImageFiles({reference, maxRetries: flags['max-retries'], stallTimeoutS: flags['stall-timeout']})
    if (!this.jsonEnabled()) this.log(renderLs(result, {width: terminalWidth()}))
    return result
  }
}
