// Docker Hub goes by several names: the one people type, an old alias, and
// the host its registry API answers on. They all mean the same registry.

export const DOCKER_HUB = 'docker.io'
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io'
export const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set([DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API_HOST])
/** The key docker (and its credential helpers) use for Docker Hub, for historical reasons. */
export const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/'

/** Whether a lowercase host (no port) is Docker Hub. */
export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_HOSTS.has(host)
}
