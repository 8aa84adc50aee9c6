// npm run demo: the main job end to end with no credentials and no internet.
// Starts a real registry (Debian's docker-registry) and the Hub simulator on
// 127.0.0.1, pushes a small repo with the built CLI, and prints what happened.
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startHubSim} from '../test/fixtures/hub/index.js'
import {registryAvailable, startRegistry} from '../test/fixtures/registry/index.js'

if (!registryAvailable()) {
  console.error(
    'The demo needs a local registry: install it with `sudo apt-get install docker-registry` (Debian/Ubuntu), then run `npm run demo` again.',
  )
  process.exit(1)
}

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
const registry = await startRegistry()
const state = join(mkdtempSync(join(tmpdir(), 'modelcar-demo-')), 'state.db')
try {
  console.error(`Hub simulator: ${hub.endpoint}   registry: ${registry.url}\n`)
  const args = [
    'push',
    '--hf-repo',
    'demo-org/tiny-model',
    '--registry',
    registry.host,
    '--target-repo',
    'demo/tiny-model',
    '--also-tag',
    'latest',
  ]
  console.error(`$ modelcar ${args.join(' ')}\n`)
  // Asynchronous: the simulator and registry answer from this process.
  const child = spawn(process.execPath, ['bin/run.js', ...args], {
    stdio: 'inherit',
    env: {...process.env, HF_ENDPOINT: hub.endpoint, MODELCAR_STATE_DB: state, HF_TOKEN: '', OCI_USERNAME: '', OCI_PASSWORD: ''},
  })
  const [code] = await once(child, 'exit')
  if (code !== 0) process.exitCode = code ?? 1
  else console.error(`\nInspect it: skopeo inspect --tls-verify=false docker://${registry.host}/demo/tiny-model:latest`)
} finally {
  await registry.close()
  await hub.close()
}
