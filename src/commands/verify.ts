import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../lib/ui/base-command.js'
import {networkFlags, progressFlags} from '../lib/ui/common-flags.js'
import {resolveLogStyle, type LogStyle} from '../lib/ui/log-style.js'
import {withSignals} from '../lib/ui/signals.js'
import {verifyProgress} from '../lib/ui/verify-progress.js'
import {renderVerify} from '../lib/ui/verify-render.js'
import {renderConsumers} from '../lib/ui/consumers-render.js'
import {ConsumerCheckError} from '../lib/verify/consumers.js'
import {VerifyFailedError} from '../lib/verify/failure.js'
import {MAX_WORKERS, verifyParams} from '../lib/verify/params.js'
import {verify} from '../lib/verify/service.js'

export default class Verify extends BaseCommand {
  static summary = 'Check that an image in a registry is what it claims to be.'
  static description = [
    'Fetches the manifest (checking its digest against @sha256: when given, and its form), then HEADs the config and every layer (present, digest, size) and checks rootfs.diff_ids. --deep streams every blob and re-hashes it, reads each tar layer (gzip too) and checks each file against its dev.modelcar.content.sha256 annotation and the tar hygiene (paths under models/, no escaping links, files 0644, directories 0755). --against-hf compares the image with the Hub commit recorded in its annotations. Images modelcar did not push get the digest, size and hygiene checks.',
    '',
    'Exit codes: 0 everything checked is right; 1 it could not be checked (network, auth, registry or Hub errors); 2 bad flags or reference; 4 the image is wrong (missing manifest or blob, digest, size or content mismatch, malformed manifest or tar, hygiene, Hub mismatch). When some checks fail and others could not run, 4 wins.',
  ].join('\n')

  static examples = [
    '<%= config.bin %> verify registry.example.com/models/qwen3:0123456789ab',
    '<%= config.bin %> verify localhost:5000/models/tiny@sha256:… --deep --against-hf --json',
    '<%= config.bin %> verify oci:./model-layout:latest --deep',
  ]

  static args = {
    ref: Args.string({
      description:
        'Image: registry/repository:tag or registry/repository@sha256:… (an http:// or https:// prefix forces the scheme), or oci:DIR:tag for an OCI image layout.',
      required: true,
    }),
  }

  static flags = {
    deep: Flags.boolean({description: 'Stream and re-hash every blob, read every tar layer and check file contents and tar hygiene.'}),
    'against-hf': Flags.boolean({
      description: 'Compare with the Hub commit recorded in the manifest annotations (HF_ENDPOINT, HF_TOKEN as push).',
    }),
    workers: Flags.integer({description: `Blobs read in parallel with --deep (1-${MAX_WORKERS}).`, default: 4}),
    include: Flags.string({
      description: 'With --against-hf: the image should hold only Hub files matching this glob (repeatable, as push).',
      multiple: true,
    }),
    exclude: Flags.string({
      description: 'With --against-hf: Hub files matching this glob should not be in the image (repeatable).',
      multiple: true,
    }),
    for: Flags.string({
      description:
        'Also check what this consumer needs (comma-separated, repeatable): kserve-sidecar (a shell, ls, ln, sleep), ' +
        'image-volume (a real image), kserve-fetch (tar or tar+gzip layers only); all: a non-empty models/ readable by any UID. ' +
        "Reads every layer's tar entries.",
      multiple: true,
    }),
    ...networkFlags,
    ...progressFlags,
  }

  async run() {
    const {args, flags} = await this.parse(Verify)
    const params = verifyParams(args.ref, flags)
    const terminal = Boolean(process.stderr.isTTY) && Boolean(process.stdout.isTTY)
    const timestamps = resolveLogStyle(flags['log-style'] as LogStyle, process.env, terminal) === 'text'
    const progress = verifyProgress({verbose: flags.verbose, quiet: flags.quiet, timestamps})
    try {
      const result = await withSignals((signal) => verify(params, {events: progress, signal}), 'Nothing was changed; run verify again.')
      if (!this.jsonEnabled()) this.log(renderVerify(result) + (result.consumers ? `\n${renderConsumers(result.consumers)}` : ''))
      if (result.exitCode !== 0) throw result.consumers?.findings.length ? new ConsumerCheckError(result) : new VerifyFailedError(result)
      return result
    } finally {
      progress.stop()
    }
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (error instanceof VerifyFailedError && this.jsonEnabled()) {
      this.logJson({...error.result, error: {code: error.code, message: error.message, exitCode: error.exitCode}})
      this.exit(error.exitCode)
    }
    return super.catch(error)
  }
}
