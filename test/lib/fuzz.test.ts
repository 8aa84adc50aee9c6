// Bounded fuzzing of the parsers that read user input or network input: random and malformed inputs from
// fixed seeds (reproducible), a fixed number of cases per block, each block well under 2 s.
// A failure message names the seed and the input, so a failing case can be replayed by hand.
import {expect} from 'chai'

import {UsageError} from '../../src/lib/errors.js'
import {nextLink} from '../../src/lib/hf/client.js'
import {checkRepoPath, checkRepoPaths} from '../../src/lib/hf/paths.js'
import {parseRetryAfter} from '../../src/lib/http/retry.js'
import {layerHeader, layerSize, layerTrailer} from '../../src/lib/layer/tar.js'
import {TarReader, type TarEntry} from '../../src/lib/layer/tar-reader.js'
import {parseWwwAuthenticate} from '../../src/lib/oci/challenge.js'
import {parseRangeEnd} from '../../src/lib/oci/client.js'
import {parseImageReference, parseRegistry, validateRepository, validateTag} from '../../src/lib/oci/reference.js'
import {matches} from '../../src/lib/push/filter.js'
import {COMPLEXITY_BOUND_MS, timed} from './time-bound.js'

// ---------------------------------------------------------------------------------------------
// deterministic randomness

/** mulberry32: small, fast, good enough for fuzzing; same seed, same sequence. */
function rng(seed: number) {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1)) // inclusive
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]
  const chance = (p: number): boolean => next() < p
  /** a string of `n` pieces drawn from `alphabet` (pieces may be multi-character) */
  const str = (alphabet: readonly string[], min: number, max: number): string => {
    let s = ''
    const n = int(min, max)
    for (let i = 0; i < n; i++) s += pick(alphabet)
    return s
  }
  return {next, int, pick, chance, str}
}
type Rng = ReturnType<typeof rng>

/** Applies 1-3 random edits (insert, delete, replace, duplicate a slice) using pieces of `alphabet`. */
function mutate(r: Rng, s: string, alphabet: readonly string[]): string {
  let out = s
  for (let k = r.int(1, 3); k > 0; k--) {
    const i = r.int(0, out.length)
    switch (r.int(0, 3)) {
      case 0:
        out = out.slice(0, i) + r.pick(alphabet) + out.slice(i)
        break
      case 1:
        out = out.slice(0, i) + out.slice(i + r.int(1, 3))
        break
      case 2:
        out = out.slice(0, i) + r.pick(alphabet) + out.slice(i + 1)
        break
      default:
        out = out.slice(0, i) + out.slice(r.int(0, i), i) + out.slice(i)
    }
  }
  return out
}

/** Runs fn; returns its value, or the UsageError it threw. Anything else fails the test with the input. */
function usageOrValue<T>(what: string, input: string, fn: () => T): T | UsageError {
  try {
    return fn()
  } catch (error) {
    if (!(error instanceof UsageError))
      throw new Error(`${what}(${JSON.stringify(input)}) threw ${String(error)} (not a UsageError)`, {cause: error})
    if (error.message.includes('\n') || error.message.includes('\r'))
      throw new Error(`${what}(${JSON.stringify(input)}): message is not one line: ${JSON.stringify(error.message)}`, {cause: error})
    return error
  }
}

// The OCI grammars, written out independently of src/lib/oci/reference.ts.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`)
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/

const HEX = '0123456789abcdef'
/** an IPv6-looking input with a zone id ('::1%eth0'): tested on its own below */
const ZONE = /:[^/]*%/

// ---------------------------------------------------------------------------------------------

describe('fuzz (fixed seeds, bounded)', function () {
  this.timeout(5000)

  describe('oci/reference', () => {
    const REF_PIECES = [
      ...'abcxyz0189',
      ...'ABZ',
      '.',
      '-',
      '_',
      '__',
      '--',
      '/',
      '//',
      ':',
      '@',
      '[',
      ']',
      '::1',
      '%',
      '?',
      '#',
      ' ',
      '\t',
      '\n',
      '\u0000',
      'é',
      '模',
      '\ud800',
      '\u200b',
      'localhost',
      'ghcr.io',
      'docker.io',
      '127.0.0.1',
      ':5000',
      ':0',
      ':65536',
      ':99999999999',
      'http://',
      'https://',
      'ftp://',
      'user:pw@',
      'sha256:',
      `sha256:${'a'.repeat(64)}`,
      `sha512:${'b'.repeat(128)}`,
      'SHA256:',
      'library/',
      'x'.repeat(130),
      'a'.repeat(256),
    ]
    const SEEDS_REF = [
      'ghcr.io/acme/model:v1',
      'localhost:5000/a/b@sha256:' + 'c'.repeat(64),
      'http://127.0.0.1:5000/m:latest',
      'ubuntu:22.04',
      '[::1]:5000/x/y:t',
      'registry.example.com/a.b/c__d/e--f:TAG_1.2-3',
      'docker.io/library/busybox@sha256:' + 'd'.repeat(64),
    ]

    it('parseImageReference: random and mutated references give a valid result or a one-line UsageError; results round-trip', () => {
      const r = rng(0x5eed0001)
      let accepted = 0
      for (let n = 0; n < 4000; n++) {
        const input = r.chance(0.5) ? mutate(r, r.pick(SEEDS_REF), REF_PIECES) : r.str(REF_PIECES, 0, 12)
        if (ZONE.test(input)) continue // IPv6 zone ids: tested on their own
        const got = usageOrValue('parseImageReference', input, () => parseImageReference(input))
        if (got instanceof UsageError) continue
        accepted++
        const at = JSON.stringify(input)
        expect(REPOSITORY_RE.test(got.repository), `${at} -> repository ${got.repository}`).to.equal(true)
        expect(got.registry.display.length + 1 + got.repository.length, at).to.be.at.most(255)
        if (got.tag !== undefined) expect(TAG_RE.test(got.tag), `${at} -> tag ${got.tag}`).to.equal(true)
        if (got.digest !== undefined) expect(DIGEST_RE.test(got.digest), `${at} -> digest ${got.digest}`).to.equal(true)
        expect(got.tag !== undefined || got.digest !== undefined, at).to.equal(true)
        expect(got.registry.baseUrl, at).to.equal(`${got.registry.scheme}://${got.registry.host}`)
        // print it back (with the scheme, so loopback/https choices survive) and parse again: same thing
        const printed = `${got.registry.scheme}://${got.registry.display}/${got.repository}${got.tag === undefined ? '' : `:${got.tag}`}${got.digest === undefined ? '' : `@${got.digest}`}`
        const again = usageOrValue('parseImageReference', printed, () => parseImageReference(printed))
        expect(again, `${at} printed as ${printed}`).to.deep.equal(got)
      }
      expect(accepted, 'the generator reaches the valid space too').to.be.greaterThan(200)
    })

    it('parseRegistry: valid results are normalised host[:port] that parse to themselves; the rest is a UsageError', () => {
      const r = rng(0x5eed0002)
      const seeds = [
        'ghcr.io',
        'localhost:5000',
        'http://127.0.0.1:5000',
        'https://registry.example.com:8443/',
        '[::1]:5000',
        'docker.io',
        'A-B.example:1',
      ]
      let accepted = 0
      for (let n = 0; n < 4000; n++) {
        const input = r.chance(0.6) ? mutate(r, r.pick(seeds), REF_PIECES) : r.str(REF_PIECES, 0, 6)
        if (ZONE.test(input)) continue // IPv6 zone ids: tested on their own
        const got = usageOrValue('parseRegistry', input, () => parseRegistry(input))
        if (got instanceof UsageError) continue
        accepted++
        const at = JSON.stringify(input)
        expect(got.baseUrl, at).to.equal(`${got.scheme}://${got.host}`)
        expect(got.display, at).to.equal(got.display.toLowerCase())
        expect(/^[a-z0-9.\-:[\]]+$/.test(got.display), `${at} -> ${got.display}`).to.equal(true)
        expect(parseRegistry(`${got.scheme}://${got.display}`), at).to.deep.equal(got)
      }
      expect(accepted).to.be.greaterThan(200)
    })

    // The README: an IPv6 zone id is a usage error (exit 2), never a TypeError from new URL later.
    it('IPv6 zone ids in --registry are a one-line UsageError', () => {
      for (const input of ['::1%eth0', '[::1%eth0]:5000', 'fe80::1%eth0', '[fe80::1%25eth0]']) {
        expect(
          usageOrValue('parseRegistry', input, () => parseRegistry(input)),
          input,
        ).to.be.instanceOf(UsageError)
      }
    })

    it('an IPv6 zone id in an image reference (verify) is a one-line UsageError', () => {
      const input = '[::1%eth0]:5000/a:b'
      expect(usageOrValue('parseImageReference', input, () => parseImageReference(input))).to.be.instanceOf(UsageError)
    })

    it('parseRegistry: hosts that are neither a dotted IPv4 address nor a name (numeric last label) are a UsageError', () => {
      for (const input of ['999.1.1.1', '127.0.0localhost.1', '1.2.3.4.5', 'a.1', '256.0.0.1:5000']) {
        expect(
          usageOrValue('parseRegistry', input, () => parseRegistry(input)),
          input,
        ).to.be.instanceOf(UsageError)
      }
    })

    it('parseRegistry: an accepted registry is the host its URL connects to (0x7f.1 is refused, naming 127.0.0.1)', () => {
      for (const input of ['0x7f.1', '0177.0.0.1', '2130706433']) {
        const got = usageOrValue('parseRegistry', input, () => parseRegistry(input))
        expect(got, input).to.be.instanceOf(UsageError)
        expect((got as UsageError).message, input).to.include('it names the address 127.0.0.1')
      }
    })

    it('a password typed into --registry or an image reference is never echoed (passwords without "/")', () => {
      const r = rng(0x5eed0004)
      const pw = [...'aZ9', '+', '=', '-', '_', '.', '~', '!', '$', '%', '&', '*', ':', '#', '?']
      for (let n = 0; n < 2000; n++) {
        const secret = `S3cr${r.str(pw, 4, 16)}`
        const input = `${r.pick(['', 'https://', 'http://'])}${r.pick(['alice', 'AWS', 'x'])}:${secret}@${r.pick(['ghcr.io', 'localhost:5000', '127.0.0.1'])}${r.pick(['', '/', '/a/b:v1'])}`
        const calls: Array<[string, () => unknown]> = [
          ['parseRegistry', () => parseRegistry(input)],
          ['parseImageReference', () => parseImageReference(input)],
        ]
        for (const [what, fn] of calls) {
          const got = usageOrValue(what, input, fn)
          expect(got, `${what}(${JSON.stringify(input)})`).to.be.instanceOf(UsageError)
          expect((got as UsageError).message, `${what}(${JSON.stringify(input)})`).not.to.include(secret)
        }
      }
    })

    it('a password containing "/" is never echoed either', () => {
      for (const input of [
        'user:p/ss@ghcr.io',
        'https://user:p/ss@ghcr.io',
        'AWS:eyJ/abc+/=@123.dkr.ecr.us-east-1.amazonaws.com',
        'user:p/ss@ghcr.io/a/b:v1',
      ]) {
        for (const fn of [(): unknown => parseRegistry(input), (): unknown => parseImageReference(input)]) {
          const got = usageOrValue('parse', input, fn)
          expect(got).to.be.instanceOf(UsageError)
          expect((got as UsageError).message, input).not.to.match(/p\/ss|eyJ\/abc/)
        }
      }
    })

    it('validateRepository / validateTag: accept exactly the OCI grammar, throw only one-line UsageErrors', () => {
      const r = rng(0x5eed0003)
      const repoPieces = [...'abz09', 'A', '.', '_', '__', '___', '-', '--', '/', '//', ':', '@', ' ', 'é', '\n', 'a'.repeat(100)]
      const tagPieces = [...'aZ09', '.', '-', '_', '/', ':', '@', ' ', '+', 'é', '\u0000', 'x'.repeat(60)]
      let repos = 0
      let tags = 0
      for (let n = 0; n < 4000; n++) {
        const name = r.chance(0.3) ? mutate(r, 'acme/my-model.v2__x', repoPieces) : r.str(repoPieces, 0, 10)
        const want = REPOSITORY_RE.test(name) && name.length <= 255
        const got = usageOrValue('validateRepository', name, () => validateRepository(name))
        expect(got instanceof UsageError ? false : got === name, JSON.stringify(name)).to.equal(want)
        if (want) repos++
        const tag = r.chance(0.3) ? mutate(r, 'v1.2-rc_3', tagPieces) : r.str(tagPieces, 0, 8)
        const tagOk = TAG_RE.test(tag)
        const gotTag = usageOrValue('validateTag', tag, () => validateTag(tag))
        expect(gotTag instanceof UsageError ? false : gotTag === tag, JSON.stringify(tag)).to.equal(tagOk)
        if (tagOk) tags++
      }
      expect(repos).to.be.greaterThan(100)
      expect(tags).to.be.greaterThan(100)
    })
  })

  describe('oci/challenge parseWwwAuthenticate', () => {
    const PIECES = [
      'Bearer',
      'Basic',
      'bearer',
      'Negotiate',
      ' ',
      '  ',
      '\t',
      ',',
      ', ',
      '=',
      '==',
      '"',
      '\\"',
      '\\',
      'realm',
      'realm=',
      'service=',
      'scope=',
      'error=',
      '"https://auth.example/token"',
      'repository:a/b:pull,push',
      'abc',
      '__proto__',
      'constructor',
      '\u0000',
      'é',
      'YII=',
      'a+b/c',
    ]

    it('never throws on random headers; scheme names are lowercase tokens; params are plain strings', () => {
      const r = rng(0x5eed0101)
      for (let n = 0; n < 5000; n++) {
        const header = r.chance(0.2) ? [r.str(PIECES, 0, 10), r.str(PIECES, 0, 10)] : r.str(PIECES, 0, 24)
        let out: ReturnType<typeof parseWwwAuthenticate>
        try {
          out = parseWwwAuthenticate(header)
        } catch (error) {
          throw new Error(`parseWwwAuthenticate(${JSON.stringify(header)}) threw ${String(error)}`, {cause: error})
        }
        for (const c of out) {
          expect(c.scheme, JSON.stringify(header)).to.match(/^[!#$%&'*+.^_`|~0-9a-z-]+$/)
          expect(Object.getPrototypeOf(c.params), JSON.stringify(header)).to.equal(Object.prototype)
          for (const [k, v] of Object.entries(c.params)) {
            expect(k, JSON.stringify(header)).to.equal(k.toLowerCase())
            expect(v, JSON.stringify(header)).to.be.a('string')
          }
        }
      }
      // a sane header still parses right after all that
      const [c] = parseWwwAuthenticate('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"')
      expect(c).to.deep.include({scheme: 'bearer'})
      expect(c.params).to.deep.equal({realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push'})
    })

    it('takes bounded time on 1 MB adversarial headers', () => {
      const MB = 1 << 20
      const inputs = [
        '"'.repeat(MB),
        ','.repeat(MB),
        ' '.repeat(MB),
        '\\'.repeat(MB),
        'a='.repeat(MB / 2),
        'Bearer ' + 'a="\\"'.repeat(MB / 5),
        'Bearer realm="' + 'x'.repeat(MB),
        'B '.repeat(MB / 2),
        'Bearer ' + 'k=v,'.repeat(MB / 4),
        '=,'.repeat(MB / 2),
        Array.from({length: 1000}, () => 'x'.repeat(1000)),
      ]
      for (const h of inputs) {
        const {ms} = timed(() => parseWwwAuthenticate(h))
        expect(ms, `${JSON.stringify(String(h).slice(0, 20))}…`).to.be.below(COMPLEXITY_BOUND_MS)
      }
    })
  })

  describe('small network parsers', () => {
    it('parseRangeEnd: never throws; a result is a non-negative integer; 0-N gives N+1', () => {
      const r = rng(0x5eed0201)
      const pieces = ['0', '1', '9', '-', ' ', 'bytes', 'bytes=', 'bytes ', '/', '*', ',', 'e', '+', '.', '0-', '99999999999999999999']
      for (let n = 0; n < 5000; n++) {
        const s = r.str(pieces, 0, 8)
        let got: number | undefined
        try {
          got = parseRangeEnd(s)
        } catch (error) {
          throw new Error(`parseRangeEnd(${JSON.stringify(s)}) threw ${String(error)}`, {cause: error})
        }
        if (got !== undefined) {
          expect(Number.isInteger(got) && got >= 0, `${JSON.stringify(s)} -> ${got}`).to.equal(true)
        }
      }
      expect(parseRangeEnd(null)).to.equal(undefined)
      for (let n = 0; n < 500; n++) {
        const end = r.int(1, 2 ** 40)
        expect(parseRangeEnd(`0-${end}`)).to.equal(end + 1)
        expect(parseRangeEnd(`bytes=0-${end}`)).to.equal(end + 1)
      }
      expect(parseRangeEnd('0-0')).to.equal(0)
    })

    it('parseRangeEnd: a number beyond Number.MAX_SAFE_INTEGER is not a size (undefined)', () => {
      for (const s of ['0-' + '9'.repeat(400), '0-99999999999999999999', `0-${Number.MAX_SAFE_INTEGER}`]) {
        expect(parseRangeEnd(s), s.slice(0, 30)).to.equal(undefined)
      }
    })

    it('nextLink: never throws, bounded time, finds rel="next" among other links', () => {
      const r = rng(0x5eed0202)
      const pieces = [
        '<',
        '>',
        ';',
        ',',
        ' ',
        'rel',
        '=',
        '"',
        'next',
        'prev',
        'rel="next"',
        'rel=next',
        'https://hub/api?cursor=abc',
        '<https://hub/x>',
        ';rel="next"',
        'NEXT',
        '\t',
        'é',
      ]
      for (let n = 0; n < 5000; n++) {
        const s = r.str(pieces, 0, 16)
        let got: string | undefined
        try {
          got = nextLink(s)
        } catch (error) {
          throw new Error(`nextLink(${JSON.stringify(s)}) threw ${String(error)}`, {cause: error})
        }
        if (got !== undefined) expect(got, JSON.stringify(s)).to.be.a('string').and.not.include('>')
      }
      for (let n = 0; n < 300; n++) {
        const url = `https://hub.example/api/models/a/b/tree/main?cursor=${r.str([...HEX], 4, 40)}`
        const others = Array.from({length: r.int(0, 3)}, (_, i) => `<https://x/${i}>; rel="${r.pick(['prev', 'last', 'first'])}"`)
        const at = r.int(0, others.length)
        const rel = r.pick(['rel="next"', 'rel=next', 'rel = "next"', 'REL="next"', 'title="x"; rel="next"'])
        const parts = [...others.slice(0, at), `<${url}>; ${rel}`, ...others.slice(at)]
        expect(nextLink(parts.join(r.pick([', ', ',', ' , ']))), parts.join(', ')).to.equal(url)
      }
      // 64 KiB adversarial headers (bigger than any HTTP client accepts in a header)
      const K64 = 64 * 1024
      for (const s of [
        ';'.repeat(K64),
        ' '.repeat(K64),
        ','.repeat(K64) + '<',
        '<'.repeat(K64),
        `<x>;${' '.repeat(K64)}rel`,
        `<x>;${'; '.repeat(K64 / 2)}x`,
        ', <'.repeat(K64 / 3),
        `<x>; rel=${'"'.repeat(K64)}`,
      ]) {
        const {ms} = timed(() => nextLink(s))
        expect(ms, JSON.stringify(s.slice(0, 12))).to.be.below(COMPLEXITY_BOUND_MS)
      }
    })

    it('parseRetryAfter: never throws; a result is a non-negative number (ms); seconds and HTTP dates', () => {
      const r = rng(0x5eed0203)
      const pieces = [
        '0',
        '1',
        '5',
        '9',
        ' ',
        '-',
        '+',
        '.',
        'e',
        'Wed, 21 Oct 2015 07:28:00 GMT',
        'GMT',
        'Fri',
        ',',
        ':',
        'Infinity',
        'NaN',
        '\u0000',
        '99999999999999999999',
      ]
      const now = Date.UTC(2026, 0, 1)
      for (let n = 0; n < 5000; n++) {
        const s = r.str(pieces, 0, 6)
        let got: number | undefined
        try {
          got = parseRetryAfter(s, now)
        } catch (error) {
          throw new Error(`parseRetryAfter(${JSON.stringify(s)}) threw ${String(error)}`, {cause: error})
        }
        if (got !== undefined) expect(got >= 0 && !Number.isNaN(got), `${JSON.stringify(s)} -> ${got}`).to.equal(true)
      }
      for (let n = 0; n < 200; n++) {
        const secs = r.int(0, 100_000)
        expect(parseRetryAfter(` ${secs} `, now)).to.equal(secs * 1000)
        const at = now + secs * 1000
        expect(parseRetryAfter(new Date(at).toUTCString(), now)).to.equal(secs * 1000)
      }
      expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).to.equal(0)
      expect(parseRetryAfter(undefined)).to.equal(undefined)
    })
  })

  describe('push/filter fnmatch', () => {
    /** Python fnmatch for patterns without '[' (what `hf download` does): '*' any run (including '/'), '?' one char. */
    function reference(pattern: string, name: string): boolean {
      if (pattern.endsWith('/')) pattern += '*'
      // dynamic programming over (pattern index, name index): linear memory, no backtracking blow-up
      let prev = new Array<boolean>(name.length + 1).fill(false)
      prev[0] = true
      for (let i = 1; i <= pattern.length; i++) {
        const c = pattern[i - 1]
        const cur = new Array<boolean>(name.length + 1).fill(false)
        cur[0] = c === '*' && prev[0]
        for (let j = 1; j <= name.length; j++) {
          if (c === '*') cur[j] = prev[j] || cur[j - 1]
          else if (c === '?') cur[j] = prev[j - 1]
          else cur[j] = prev[j - 1] && name[j - 1] === c
        }
        prev = cur
      }
      return prev[name.length]
    }

    const NAME = [...'ab.', '/', '-', '_', 'é', '\n', '$', '(', '+', '\\', '^', '|', '{', '}']

    it('patterns without brackets: never throw, and match exactly like Python fnmatch', () => {
      const r = rng(0x5eed0301)
      const pat = [...NAME, '*', '*', '?', '**', '*/', '.*', '/']
      for (let n = 0; n < 4000; n++) {
        const p = r.str(pat, 0, 8)
        for (let k = 0; k < 4; k++) {
          const name = r.str(NAME, 0, 12)
          expect(matches(p, name), `pattern ${JSON.stringify(p)} name ${JSON.stringify(name)}`).to.equal(reference(p, name))
        }
      }
    })

    it('patterns with brackets: never throw', () => {
      const r = rng(0x5eed0302)
      const pat = [...'abz09', '[', ']', '!', '^', '-', '\\', '*', '?', '/', '[]', '[!', '[a-', 'z-a]', '[:alpha:]', 'é']
      for (let n = 0; n < 5000; n++) {
        const p = r.str(pat, 0, 8)
        try {
          matches(p, r.str([...'abz09]-!^\\/'], 0, 6))
        } catch (error) {
          throw new Error(`matches(${JSON.stringify(p)}) threw ${String(error)}`, {cause: error})
        }
      }
    })

    it('bracket expressions follow Python fnmatch', () => {
      const cases: Array<[string, string, boolean]> = [
        ['[]]', ']', true],
        ['[]]', 'x', false],
        ['[!]]', 'x', true],
        ['[!]]', ']', false],
        ['[!]]', 'x]', false],
        ['[]a]', 'a', true],
        ['[a-c]', 'b', true],
        ['[!a-c]', 'b', false],
        ['[!a-c]', 'd', true],
        ['[a-]', '-', true],
        ['[\\]', '\\', true],
        ['[z-a]', 'z', false],
        ['[', '[', true],
        ['[!', '[!', true],
        ['*.[jJ][sS][oO][nN]', 'a/b.JSON', true],
      ]
      for (const [p, name, want] of cases) expect(matches(p, name), `${p} vs ${name}`).to.equal(want)
    })

    it('random short patterns against short names take bounded time', () => {
      const r = rng(0x5eed0303)
      const {ms} = timed(() => {
        for (let n = 0; n < 2000; n++) matches(r.str([...'ab*?', '*a', 'b*'], 0, 8), r.str([...'ab/'], 0, 40))
      })
      expect(ms).to.be.below(COMPLEXITY_BOUND_MS)
    })

    it('adversarial patterns against 4096-byte paths finish in bounded time (backtracking would take hours)', () => {
      const path = 'a'.repeat(4096)
      const {ms} = timed(() => {
        for (const p of ['*a*a*a*a*a*b', '*a*a*a*b', '?*?*?*?*?*b', '*.*.*.*.*.x']) {
          const name = p.includes('.') ? '.'.repeat(4096) : path
          expect(matches(p, name), p).to.equal(false)
        }
      })
      expect(ms).to.be.below(COMPLEXITY_BOUND_MS)
    })
  })

  describe('hf/paths checkRepoPaths', () => {
    const C0 = /[\u0000-\u001f\u007f]/
    const PIECES = [
      ...'abz09',
      '.',
      '..',
      '/',
      '//',
      '\\',
      ' ',
      '-',
      '_',
      'é',
      'e\u0301',
      '\u00c5',
      'A\u030a',
      '\u212b',
      '模',
      '\u0000',
      '\n',
      '\r',
      '\t',
      '\u001b',
      '\u007f',
      '\u0085',
      '\u009b',
      '\u2028',
      '\ufeff',
      '\ud800',
      '🙂',
      '%2e',
      '~',
    ]

    it('anything accepted is relative, has no . or .. or empty segment, no backslash, no C0/DEL control, no NFC twin', () => {
      const r = rng(0x5eed0401)
      let accepted = 0
      for (let n = 0; n < 3000; n++) {
        const paths = Array.from({length: r.int(1, 4)}, () => r.str(PIECES, 1, 8))
        if (r.chance(0.2)) paths.push(paths[0].normalize(r.pick(['NFC', 'NFD'])))
        const got = usageOrValue('checkRepoPaths', JSON.stringify(paths), () => checkRepoPaths(paths))
        if (got instanceof UsageError) {
          expect(got.code).to.equal('E_UNSAFE_PATH')
          continue
        }
        accepted++
        const at = JSON.stringify(paths)
        const seen = new Set<string>()
        for (const p of paths) {
          expect(p.startsWith('/'), at).to.equal(false)
          expect(p.includes('\\'), at).to.equal(false)
          expect(C0.test(p), at).to.equal(false)
          expect(
            p.split('/').some((s) => s === '' || s === '.' || s === '..'),
            at,
          ).to.equal(false)
          expect(seen.has(p.normalize('NFC')), at).to.equal(false)
          seen.add(p.normalize('NFC'))
        }
      }
      expect(accepted).to.be.greaterThan(150)
    })

    it('refuses every Unicode control character (\\p{Cc}, C1 included)', () => {
      for (const p of ['a\u0085b', 'x\u009b2J', '\u0080']) {
        expect(() => checkRepoPaths([p]), JSON.stringify(p)).to.throw(UsageError)
      }
    })

    it('lone surrogates (not encodable as UTF-8, so no tar name) are refused as invalid Unicode', () => {
      for (const p of ['a\ud800b', 'x/\udfff', 'ok/\ud83d']) {
        expect(() => checkRepoPath(p), JSON.stringify(p)).to.throw(UsageError, /invalid Unicode/)
      }
      expect(() => checkRepoPath('ok/\ud83d\ude42'), 'a surrogate pair').not.to.throw()
    })
  })

  describe('layer/tar: layerHeader round-trips through the tar reader', () => {
    const SEGMENT = [...'abcxyz019', '.', '-', '_', ' ', 'é', '模', '🙂', 'ß', '~', '+', '#', 'x'.repeat(40), 'long-name-part-']

    function randomPath(r: Rng): string {
      for (;;) {
        const segs = Array.from({length: r.int(1, r.chance(0.2) ? 12 : 4)}, () => r.str(SEGMENT, 1, r.chance(0.1) ? 30 : 6))
        const p = segs.join('/')
        try {
          checkRepoPath(p)
          return p
        } catch {
          // '.'/'..' segments: draw again
        }
      }
    }

    function readEntries(bytes: Buffer, chunk: number): {entries: Array<TarEntry & {content: Buffer}>; ended: boolean} {
      const entries: Array<TarEntry & {content: Buffer}> = []
      const reader = new TarReader((e) => {
        const parts: Buffer[] = []
        entries.push({...e, content: Buffer.alloc(0)})
        const mine = entries.length - 1
        return {data: (c) => parts.push(Buffer.from(c)), end: () => (entries[mine].content = Buffer.concat(parts))}
      })
      for (let i = 0; i < bytes.length; i += chunk) reader.write(bytes.subarray(i, i + chunk))
      return {entries, ended: true}
    }

    it('random paths and sizes: same path, same size, parents as 0755 directories, layerSize adds up', () => {
      const r = rng(0x5eed0501)
      for (let n = 0; n < 400; n++) {
        const path = randomPath(r)
        const size = r.chance(0.1)
          ? r.int(8 * 1024 ** 3 - 2, 60 * 1024 ** 3)
          : r.chance(0.3)
            ? r.pick([0, 1, 511, 512, 513])
            : r.int(0, 3000)
        const at = `${JSON.stringify(path)} size ${size}`
        const head = layerHeader(path, size)
        expect(head.length % 512, at).to.equal(0)
        const trailer = layerTrailer(size)
        expect(layerSize(path, size), at).to.equal(head.length + size + trailer.length)
        expect((head.length + size + trailer.length) % 512, at).to.equal(0)

        const small = size <= 3000
        const content = small ? Buffer.alloc(size, n & 0xff) : Buffer.alloc(0)
        const bytes = small ? Buffer.concat([head, content, trailer]) : head
        const {entries} = readEntries(bytes, r.pick([1, 7, 512, 4096, 1 << 20]))
        const segs = path.split('/')
        const dirs = segs.slice(0, -1).map((_, i) => `models/${segs.slice(0, i + 1).join('/')}/`)
        expect(
          entries.map((e) => e.path),
          at,
        ).to.deep.equal(['models/', ...dirs, `models/${path}`])
        for (const d of entries.slice(0, -1)) {
          expect(d.type, at).to.equal('directory')
          expect(d.mode, at).to.equal(0o755)
        }
        const file = entries.at(-1)!
        expect(file.type, at).to.equal('file')
        expect(file.size, at).to.equal(size)
        expect(file.mode, at).to.equal(0o644)
        expect([file.uid, file.gid, file.mtime], at).to.deep.equal([0, 0, 0])
        if (small) expect(file.content.equals(content), at).to.equal(true)
      }
    })
  })
})
