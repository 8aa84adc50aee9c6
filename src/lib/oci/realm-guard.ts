// A registry names its own token realm, so a hostile one could steer our
// credentials to a cloud metadata service (169.254.169.254 and friends).
// Decided on the address the realm's name resolves to, not on its text:
// `[::ffff:169.254.169.254]`, `[fd00:ec2::254]` and DNS names pointing there
// are caught alike.
import {lookup} from 'node:dns/promises'
import {BlockList, isIP} from 'node:net'
import {ModelcarError} from '../errors.js'

const forbidden = new BlockList()
forbidden.addSubnet('169.254.0.0', 16, 'ipv4') // IPv4 link-local: AWS, GCP, Azure, OpenStack metadata
forbidden.addSubnet('fe80::', 10, 'ipv6') // IPv6 link-local
forbidden.addAddress('fd00:ec2::254', 'ipv6') // AWS IMDS over IPv6
forbidden.addAddress('100.100.100.200', 'ipv4') // Alibaba Cloud metadata

/** Names that mean a metadata service whatever they resolve to here. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata'])

/** An address as BlockList sees it, with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) unwrapped. */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped) return forbidden.check(mapped[1], 'ipv4')
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare)
  if (hexMapped) {
    const n = (parseInt(hexMapped[1], 16) << 16) | parseInt(hexMapped[2], 16)
    return forbidden.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4')
  }
  const family = isIP(bare)
  if (family === 0) return false
  return forbidden.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

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
