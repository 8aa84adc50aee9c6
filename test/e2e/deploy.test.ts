// deploy/: nothing here can run containers, so check what the manifests rely
// on: every YAML parses, the Indexed Job's env contract matches what
// `modelcar mirror` reads, every Secret and ConfigMap it names is defined
// beside it, the CronJob runs the same spec, the example mirror file passes
// our own parser, and the Containerfile builds modelcar as the Job calls it.
import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'
import Mirror from '../../src/commands/mirror.js'
import {parseMirrorFile} from '../../src/lib/mirror/file.js'
import {mirrorUnits} from '../../src/lib/mirror/units.js'
import {findRegistryCredential} from '../../src/lib/oci/credentials.js'
import {ROOT, runCli} from './helpers.js'

const DIR = join(ROOT, 'deploy/kubernetes')

function docs(file: string): any[] {
  const parsed = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
  if (!Array.isArray(parsed)) return []
  for (const d of parsed) expect(d.errors, file).to.deep.equal([])
  return parsed.map((d) => d.toJS() as unknown)
}

describe('deploy/kubernetes', () => {
  const job = docs('job.yaml')[0]
  const cron = docs('cronjob.yaml')[0]
  const secrets = docs('secrets.example.yaml')
  const kustomization = docs('kustomization.yaml')[0]
  const pod = job.spec.template.spec
  const container = pod.containers[0]
  const env = new Map<string, any>(container.env.map((e: any) => [e.name, e]))
  const mountOf = (name: string) => container.volumeMounts.find((m: any) => m.name === name)
  const volumeAt = (path: string) =>
    pod.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === path)?.name)

  it('every YAML file parses', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'))
    expect(files.sort()).to.deep.equal(['cronjob.yaml', 'job.yaml', 'kustomization.yaml', 'mirror.yaml', 'secrets.example.yaml'])
    for (const f of files) expect(docs(f).length, f).to.be.greaterThan(0)
  })

  it('is an Indexed Job of 3 whose shard count modelcar reads from the env, and whose index Kubernetes sets', () => {
    expect(job).to.include({apiVersion: 'batch/v1', kind: 'Job'})
    expect(job.spec).to.include({completionMode: 'Indexed', completions: 3, parallelism: 3})
    expect(pod.restartPolicy).to.equal('Never')
    expect(container.command).to.deep.equal(['modelcar', 'mirror', '/config/mirror.yaml'])
    // The index comes from Kubernetes, never from us; the count must match completions.
    expect(env.has('JOB_COMPLETION_INDEX')).to.equal(false)
    expect(env.get('MODELCAR_SHARD_COUNT').value).to.equal(String(job.spec.completions))
    expect(Mirror.flags['shard-index'].env).to.equal('JOB_COMPLETION_INDEX')
    expect(Mirror.flags['shard-count'].env).to.equal('MODELCAR_SHARD_COUNT')
  })

  it('mounts the mirror file from the ConfigMap that kustomization generates from mirror.yaml', () => {
    expect(volumeAt('/config').configMap.name).to.equal('modelcar-mirror')
    expect(mountOf('config').readOnly).to.equal(true)
    expect(kustomization.configMapGenerator).to.deep.equal([{name: 'modelcar-mirror', files: ['mirror.yaml']}])
    expect(kustomization.generatorOptions.disableNameSuffixHash).to.equal(true)
    expect(kustomization.resources).to.deep.equal(['cronjob.yaml'])
  })

  it('takes HF_TOKEN and the registry credentials from Secrets defined beside it, where modelcar reads them', async () => {
    const secret = (name: string) => secrets.find((s) => s.kind === 'Secret' && s.metadata.name === name)
    const hf = env.get('HF_TOKEN').valueFrom.secretKeyRef
    expect(Object.keys(secret(hf.name).stringData)).to.include(hf.key)

    const auth = volumeAt(env.get('DOCKER_CONFIG').value).secret
    const docker = secret(auth.secretName)
    expect(docker.type).to.equal('kubernetes.io/dockerconfigjson')
    expect(auth.items).to.deep.equal([{key: '.dockerconfigjson', path: 'config.json'}])
    // The file the Secret becomes, at the path the Job gives, is what modelcar's lookup reads.
    const dir = mkdtempSync(join(tmpdir(), 'mc-docker-'))
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({auths: {'registry.example.com': {auth: Buffer.from('u:p').toString('base64')}}}),
    )
    const found = await findRegistryCredential('registry.example.com', {env: {DOCKER_CONFIG: dir}, homedir: dir})
    expect(found).to.include({kind: 'basic', username: 'u', password: 'p'})
    expect(JSON.parse(docker.stringData['.dockerconfigjson']).auths).to.have.property('registry.example.com')
  })

  it('keeps the state database on an emptyDir and sizes memory from the measured RSS', () => {
    const db = env.get('MODELCAR_STATE_DB').value as string
    expect(volumeAt(db.slice(0, db.lastIndexOf('/'))).emptyDir).to.be.an('object')
    expect(container.resources).to.deep.equal({requests: {cpu: '500m', memory: '256Mi'}, limits: {memory: '512Mi'}})
    // Every path the read-only root filesystem leaves writable is a volume.
    expect(container.securityContext.readOnlyRootFilesystem).to.equal(true)
    expect(volumeAt(env.get('HOME').value).emptyDir).to.be.an('object')
  })

  it('is wrapped by a nightly CronJob with the very same job spec', () => {
    expect(cron).to.include({apiVersion: 'batch/v1', kind: 'CronJob'})
    expect(cron.spec.schedule).to.match(/^\S+ \S+ \S+ \S+ \S+$/)
    expect(cron.spec.concurrencyPolicy).to.equal('Forbid')
    expect(cron.spec.jobTemplate.spec).to.deep.equal(job.spec)
  })

  it('ships an example mirror file that our parser accepts, which the shards split among themselves', async () => {
    const text = readFileSync(join(DIR, 'mirror.yaml'), 'utf8')
    const units = mirrorUnits(parseMirrorFile(text, 'mirror.yaml').entries, 'mirror.yaml')
    expect(units.length).to.be.greaterThan(2)
    const taken: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await runCli(['mirror', join(DIR, 'mirror.yaml'), '--dry-run', '--json'], {
        JOB_COMPLETION_INDEX: String(i),
        MODELCAR_SHARD_COUNT: '3',
      })
      expect(res.code, res.stderr).to.equal(0)
      taken.push(...(JSON.parse(res.stdout) as Array<{hfRepo: string; revision: string}>).map((u) => `${u.hfRepo}@${u.revision}`))
    }
    expect(taken.sort()).to.deep.equal(units.map((u) => `${u.params.hfRepo}@${u.revision}`).sort())
  })
})

describe('Containerfile', () => {
  const text = readFileSync(join(ROOT, 'Containerfile'), 'utf8')

  it('builds modelcar on node 20 without dev dependencies, with modelcar as the entrypoint the Job calls', () => {
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])
    expect(froms.length).to.equal(2)
    for (const f of froms) expect(f).to.match(/^docker\.io\/library\/node:20-/)
    expect(text).to.match(/^RUN npm ci && npm prune --omit=dev$/m)
    expect(text).to.match(/^ENTRYPOINT \["modelcar"\]$/m)
    expect(text).to.match(/^RUN ln -s \/opt\/modelcar\/bin\/run\.js \/usr\/local\/bin\/modelcar /m)
    // The default state database's folder is writable by the user the image runs as.
    expect(text).to.match(/^ENV MODELCAR_STATE_DB=\/var\/lib\/modelcar\/state\.db/m)
    expect(text).to.include('chown node:node /var/lib/modelcar')
    // Everything the CLI loads at run time is copied into the runtime stage.
    for (const path of ['package.json', 'oclif.manifest.json', 'bin', 'dist', 'node_modules', 'build/Release/sha256_state.node'])
      expect(text, path).to.include(`/src/${path}`)
    expect(text).to.match(/^USER node$/m)
    // A memory limit sized under 100 MiB a push needs the background threads' arenas back (README).
    expect(text).to.match(/^\s+NODE_OPTIONS=--v8-pool-size=1$/m)
  })
})
