// Hub token discovery, as huggingface_hub does it: HF_TOKEN, then the token
// file written by `hf auth login`.
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {quoteInput as q, UsageError} from '../errors.js'
import {redactUserinfo} from '../net/proxy.js'

export interface HubToken {
  value: string
  /** Where it came from, for messages: never the token itself. */
  source: string
}

export function findHubToken(env: NodeJS.ProcessEnv = process.env, home = homedir()): HubToken | undefined {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const value = env[name]?.trim()
    if (value) return {value, source: name}
  }
  const hfHome = env.HF_HOME || join(env.XDG_CACHE_HOME || join(home, '.cache'), 'huggingface')
  const file = env.HF_TOKEN_PATH || join(hfHome, 'token')
  try {
    const value = readFileSync(file, 'utf8').trim()
    if (value) return {value, source: file}
  } catch {
    // no token file: anonymous
  }
  return undefined
}

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'

/**
 * The Hub's base URL from HF_ENDPOINT. Credentials in it are refused, never
 * used: they would be sent to every host a redirect leads to and printed in
 * messages and the run history. The token belongs in HF_TOKEN.
 */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): URL {
  const raw = (env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`HF_ENDPOINT ${q(redactUserinfo(raw))} is not a URL: set it to e.g. https://huggingface.co.`, 'E_HF_ENDPOINT')
  }
  if (url.username !== '' || url.password !== '') {
    // Rebuilt from the parsed parts: a password holding '@' or '/' leaves nothing behind.
    const shown = `${url.protocol}//***@${url.host}${url.pathname === '/' ? '' : url.pathname}`
    throw new UsageError(`HF_ENDPOINT must not carry credentials (${shown}): put the token in HF_TOKEN.`, 'E_HF_ENDPOINT')
  }
  return url
}
