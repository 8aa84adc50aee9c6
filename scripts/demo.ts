// npm run demo: the main job end to end with no credentials and no internet.
// Starts the Hub simulator on 127.0.0.1 and pushes a small repo with the
// built CLI: to a real registry (Debian's docker-registry) when one is
// installed, else to an OCI image layout on disk (--to oci:DIR), which needs
// no system package.
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim} from '../test/fixtures/hub/index.js'
import {registryAvailable, startRegistry, type TestRegistry} from '../test/fixtures/registry/index.js'

const hub = await startHubSim({
  repos: [
    {
      id: 'demo-org/tiny-model',
      commits: [
        {
          sha: 'd'.repeat(8) + '0123456789abcdef0123456789abcdef',
          files: [
            {path: 'config.json', size: 0, content: Buffer.from('{"architectures":["TinyForCausalLM"],"hidden_size":64}\n')},
            {path: 'tokenizer/tokenizer.json', size: 48 * 1024},
            {path: 'model.safetensors', size: 24 * 1024 * 1024, lfs: true},
          ].map((f) => (f.content ? {...f, size: f.content.length} : f)),
        },
      ],
    },
  ],
})
const work = mkdtempSync(join(tmpdir(), 'modelcar-demo-'))
const state = join(work, 'state.db')
const layout = join(work, 'tiny-model-layout')
// MODELCAR_DEMO_TARGET=layout: the layout even where a registry is installed.
const useRegistry = registryAvailable() && process.env.MODELCAR_DEMO_TARGET !== 'layout'
const registry: TestRegistry | undefined = useRegistry ? await startRegistry() : undefined
try {
  console.error(`Hub simulator: ${hub.endpoint}   ${registry ? `registry: ${registry.url}` : `no registry: writing an OCI image layout`}\n`)
  const target = registry ? ['--registry', registry.host, '--target-repo', 'demo/tiny-model'] : ['--to', `oci:${layout}`]
  const args = ['push', '--hf-repo', 'demo-org/tiny-model', ...target, '--also-tag', 'latest']
  console.error(`$ modelcar ${args.join(' ')}\n`)
  // Asynchronous: the simulator and registry answer from this process.
  const child = spawn(process.execPath, ['bin/run.js', ...args], {
    stdio: 'inherit',
    env: {...process.env, HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state, HF_TOKEN: '', OCI_USERNAME: '', OCI_PASSWORD: ''},
  })
  const [code] = await once(child, 'exit')
  if (code !== 0) process.exitCode = code ?? 1
  else if (registry) console.error(`\nInspect it: skopeo inspect --tls-verify=false docker://${registry.host}/demo/tiny-model:latest`)
  else
    console.error(
      [
        '',
        `Inspect it:  skopeo inspect oci:${layout}:latest`,
        `Unpack it:   umoci unpack --rootless --image ${layout}:latest ./bundle   (the files are under ./bundle/rootfs/models)`,
        `Carry it:    skopeo copy --preserve-digests oci:${layout}:latest docker://REGISTRY/REPO:TAG`,
        "(With Debian's docker-registry installed, `npm run demo` pushes to a local registry instead.)",
      ].join('\n'),
    )
} finally {
  await registry?.close()
  await hub.close()
}
