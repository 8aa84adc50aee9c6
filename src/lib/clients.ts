// Building the Hub and registry clients from the environment, in one place
// for every command: the retry policy, stall timeout and credential lookup
// are the same whether we push or verify.
import {HubClient} from './hf/client.js'
import {findHubToken, hubEndpoint} from './hf/token.js'
import {defaultRetryPolicy, type RetryPolicy} from './http/retry.js'
import type {TransportSettings} from './http/transport.js'
import {Connections} from './net/connections.js'
import {RegistryAuth} from './oci/auth.js'
import {RegistryClient} from './oci/client.js'
import {findRegistryCredential} from './oci/credentials.js'
import type {RegistryEndpoint} from './oci/reference.js'

export interface NetworkOptions {
  maxRetries?: number
  /** Seconds without a byte moving before a request is retried. */
  stallTimeoutS?: number
  onRetry?: (message: string) => void
  /** Told once per origin whether it is reached directly or through a proxy (for --verbose). */
  onRoute?: (message: string) => void
  /** false: accept any certificate from the registry (never the Hub's). */
  tlsVerify?: boolean
  env?: NodeJS.ProcessEnv
}

export function retryPolicy(opts: NetworkOptions): RetryPolicy {
  return {...defaultRetryPolicy, maxRetries: opts.maxRetries ?? defaultRetryPolicy.maxRetries}
}

function idleTimeoutMs(opts: NetworkOptions): number {
  return (opts.stallTimeoutS ?? 60) * 1000
}

/** The Hub at HF_ENDPOINT, with the token from HF_TOKEN or the token file. */
export function hubClient(opts: NetworkOptions): HubClient {
  const env = opts.env ?? process.env
  return new HubClient(hubEndpoint(env), findHubToken(env), transportSettings(opts, new Connections({env})))
}

/** One repository of a registry, with credentials looked up now (never stored). */
export async function registryClient(registry: RegistryEndpoint, repository: string, opts: NetworkOptions): Promise<RegistryClient> {
  const env = opts.env ?? process.env
  const credential = await findRegistryCredential(registry.host, {repository, env})
  const settings = transportSettings(
    opts,
    new Connections({env, registryOrigin: new URL(registry.baseUrl).origin, tlsVerify: opts.tlsVerify}),
  )
  return new RegistryClient(registry, repository, new RegistryAuth(registry, credential, settings), settings)
}

function transportSettings(opts: NetworkOptions, connections: Connections): TransportSettings {
  return {
    retry: retryPolicy(opts),
    idleTimeoutMs: idleTimeoutMs(opts),
    onRetry: (what, error, n) => opts.onRetry?.(`${what} (attempt ${n + 1}): ${(error as Error).message}`),
    onRoute: (origin, how) => opts.onRoute?.(`${origin}: ${how}`),
    connections,
  }
}
