// Link-local and cloud metadata addresses (169.254.169.254 and friends): a
// server must not steer our connections, and the credentials they carry,
// there. Connections to hosts a server named (token realm, CDN, storage host)
// resolve through guardedLookup(), which drops those addresses at connect
// time, so a name that passed a check and then resolves elsewhere a moment
// later (DNS rebinding) connects nowhere forbidden.
import dns, {type LookupAddress, type LookupAllOptions, type LookupOptions} from 'node:dns'
import {BlockList, isIP, type LookupFunction} from 'node:net'

const forbidden = new BlockList()
forbidden.addSubnet('169.254.0.0', 16, 'ipv4') // IPv4 link-local: AWS, GCP, Azure, OpenStack metadata
forbidden.addSubnet('fe80::', 10, 'ipv6') // IPv6 link-local
forbidden.addAddress('fd00:ec2::254', 'ipv6') // AWS IMDS over IPv6
forbidden.addAddress('100.100.100.200', 'ipv4') // Alibaba Cloud metadata

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

type Resolve = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void

/**
 * A `lookup` for connections to hosts a server named (token realm, CDN,
 * storage): forbidden addresses are dropped from every answer, and a name
 * that resolves only to them fails to connect (code E_FORBIDDEN_ADDRESS).
 */
export function guardedLookup(resolve: Resolve = dns.lookup): LookupFunction {
  return (hostname, options: LookupOptions, callback) => {
    resolve(hostname, {...options, all: true}, (error, addresses) => {
      if (error) return callback(error, '', 0)
      const allowed = addresses.filter((a) => !isForbiddenAddress(a.address))
      if (allowed.length === 0) {
        const refused = Object.assign(
          new Error(`${hostname} resolves to a link-local or cloud metadata address (${addresses[0]?.address ?? 'none'})`),
          {code: 'E_FORBIDDEN_ADDRESS'},
        )
        return callback(refused, '', 0)
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed)
      callback(null, allowed[0].address, allowed[0].family)
    })
  }
}
