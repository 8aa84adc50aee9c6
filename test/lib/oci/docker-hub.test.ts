import {expect} from 'chai'
import {DOCKER_HUB, DOCKER_HUB_API_HOST, isDockerHub} from '../../../src/lib/oci/docker-hub.js'
import {profileFor} from '../../../src/lib/oci/profiles.js'
import {parseRegistry} from '../../../src/lib/oci/reference.js'

describe('oci/docker-hub', () => {
  it('knows every name of Docker Hub and nothing else', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) expect(isDockerHub(host), host).to.equal(true)
    for (const host of ['ghcr.io', 'docker.io.example.com', 'mirror.docker.io', 'auth.docker.io', 'docker.io:443']) {
      expect(isDockerHub(host), host).to.equal(false)
    }
  })

  it('is what reference parsing and registry profiles agree on', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(parseRegistry(host).host, host).to.equal(DOCKER_HUB_API_HOST)
      expect(profileFor(host).name, host).to.equal('Docker Hub')
    }
    expect(DOCKER_HUB).to.equal('docker.io')
  })
})
