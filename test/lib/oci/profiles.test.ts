import {expect} from 'chai'
import {clampChunk, GENERIC, planWarnings, profileFor, UploadModes} from '../../../src/lib/oci/profiles.js'
import {ModeRefusedError} from '../../../src/lib/oci/upload.js'

const MiB = 1024 * 1024

describe('oci/profiles', () => {
  it('knows the registries in the wild by host', () => {
    expect(profileFor('ghcr.io')).to.include({name: 'GitHub Container Registry', mode: 'stream'})
    expect(profileFor('europe-docker.pkg.dev')).to.include({mode: 'stream'})
    expect(profileFor('123456789012.dkr.ecr.eu-west-1.amazonaws.com')).to.include({
      name: 'Amazon ECR',
      mode: 'chunked',
      minChunk: 5 * MiB,
      maxChunk: 10 * MiB,
    })
    expect(profileFor('myreg.azurecr.io')).to.include({name: 'Azure Container Registry'})
    expect(profileFor('quay.io')).to.include({maxLayerBytes: 20e9})
    expect(profileFor('registry-1.docker.io')).to.include({name: 'Docker Hub'})
    expect(profileFor('127.0.0.1:5000')).to.equal(GENERIC)
    expect(profileFor('ghcr.io.evil.example')).to.equal(GENERIC)
  })

  it('clamps chunks to the registry bounds and its OCI-Chunk-Min-Length', () => {
    const ecr = profileFor('1.dkr.ecr.us-east-1.amazonaws.com')
    expect(clampChunk(8 * MiB, ecr)).to.equal(8 * MiB)
    expect(clampChunk(1 * MiB, ecr)).to.equal(5 * MiB)
    expect(clampChunk(64 * MiB, ecr)).to.equal(10 * MiB)
    expect(clampChunk(1 * MiB, GENERIC, 3 * MiB)).to.equal(3 * MiB)
  })

  it('warns of files over the layer cap and too many layers', () => {
    const ghcr = profileFor('ghcr.io')
    expect(
      planWarnings(ghcr, [
        {path: 'big.bin', layerSize: 11e9},
        {path: 'ok.bin', layerSize: 1e9},
      ]),
    ).to.deep.equal([
      "big.bin (11000000000 bytes as a layer) is over GitHub Container Registry's per-layer limit of 10000000000 bytes: it will likely be refused.",
    ])
    const ecr = profileFor('1.dkr.ecr.us-east-1.amazonaws.com')
    expect(
      planWarnings(
        ecr,
        Array.from({length: 501}, (_, i) => ({path: `f${i}`, layerSize: 2048})),
      )[0],
    ).to.match(/501 files make 501 layers, more than Amazon ECR accepts/)
  })

  it('steps the upload mode down only, and only in auto mode', () => {
    const learnt: string[] = []
    const auto = new UploadModes('chunked', GENERIC, true, (mode) => learnt.push(mode))
    expect(auto.stepDown(new ModeRefusedError('stream', '416'))).to.equal(true)
    expect(auto.mode).to.equal('stream')
    expect(auto.stepDown(new ModeRefusedError('stream', 'again'))).to.equal(true) // another worker's refusal: just retry
    expect(auto.stepDown(new ModeRefusedError('monolithic', '405'))).to.equal(true)
    expect(auto.mode).to.equal('monolithic')
    expect(learnt).to.deep.equal(['stream', 'monolithic'])
    const forced = new UploadModes('stream', GENERIC, false)
    expect(forced.stepDown(new ModeRefusedError('monolithic', '405'))).to.equal(false)
    expect(forced.mode).to.equal('stream')
  })
  it('prefers a lower mode (cut PATCHes cancel sessions) only in auto mode, only downwards, and says when it changed', () => {
    const learnt: string[] = []
    const auto = new UploadModes('chunked', GENERIC, true, (mode, why) => learnt.push(`${mode}: ${why}`))
    expect(auto.prefer('stream', 'cuts cancel sessions')).to.equal(true)
    expect(auto.mode).to.equal('stream')
    expect(auto.prefer('stream', 'again')).to.equal(false) // another worker learnt it already
    expect(auto.prefer('chunked', 'never up')).to.equal(false)
    expect(auto.mode).to.equal('stream')
    expect(learnt).to.deep.equal(['stream: cuts cancel sessions'])
    const forced = new UploadModes('chunked', GENERIC, false)
    expect(forced.prefer('stream', 'cuts cancel sessions')).to.equal(false)
    expect(forced.mode).to.equal('chunked')
  })
})
