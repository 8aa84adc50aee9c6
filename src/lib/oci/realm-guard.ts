// A registry names its own token realm, so a hostile one could steer our
// credentials to a cloud metadata service (169.254.169.254 and friends).
// Decided on the address the realm's name resolves to, not on its text:
// `[::ffff:169.254.169.254]`, `[fd00:ec2::254]` and DNS names pointing there
// are caught alike. This check gives a clear message before a token request;
// net/forbidden-addresses.ts makes it hold at connect time too (DNS rebinding).
import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {ModelcarError} from '../errors.js'
import {isForbiddenAddress} from '../net/forbidden-addresses.js'

/** Names that mean a metadata service whatever they resolve to here. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata'])

/** Throws before any credential is sent when the realm is, or resolves to, a metadata address. */
export async function checkRealmAddress(realm: URL, registryHost: string, resolve = lookup): Promise<void> {
  const host = realm.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '')
  const refuse = (address: string) =>
    new ModelcarError(
      `Registry ${registryHost} named a token realm at a link-local or cloud metadata address (${realm.host}${address === host ? '' : ` = ${address}`}); refusing to send credentials there.`,
      {code: 'E_REGISTRY_AUTH'},
    )
  if (METADATA_NAMES.has(host)) throw refuse(host)
  if (isIP(host)) {
    if (isForbiddenAddress(host)) throw refuse(host)
    return
  }
  let addresses: Array<{address: string}>
  try {
    addresses = await resolve(host, {all: true, verbatim: true})
  } catch {
    return // unresolvable: the request itself will fail with a clear network error
  }
  const bad = addresses.find((a) => isForbiddenAddress(a.address))
  if (bad) throw refuse(bad.address)
}
