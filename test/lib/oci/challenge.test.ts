import {expect} from 'chai'

import {type Challenge, findChallenge, MAX_WWW_AUTHENTICATE_LENGTH, parseWwwAuthenticate} from '../../../src/lib/oci/challenge.js'
import {COMPLEXITY_BOUND_MS, timed} from '../time-bound.js'

describe('oci/challenge', () => {
  describe('real registries', () => {
    const table: Array<[string, string, Challenge[]]> = [
      [
        'Docker Hub',
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
        [
          {
            scheme: 'bearer',
            params: {realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull'},
          },
        ],
      ],
      [
        'Docker Hub, insufficient scope',
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:myorg/model:pull,push",error="insufficient_scope"',
        [
          {
            scheme: 'bearer',
            params: {
              realm: 'https://auth.docker.io/token',
              service: 'registry.docker.io',
              scope: 'repository:myorg/model:pull,push',
              error: 'insufficient_scope',
            },
          },
        ],
      ],
      [
        'GHCR',
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
        [{scheme: 'bearer', params: {realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull'}}],
      ],
      [
        'ECR (Basic)',
        'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
        [{scheme: 'basic', params: {realm: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/', service: 'ecr.amazonaws.com'}}],
      ],
      [
        'Quay',
        'Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:org/repo:pull"',
        [{scheme: 'bearer', params: {realm: 'https://quay.io/v2/auth', service: 'quay.io', scope: 'repository:org/repo:pull'}}],
      ],
      [
        'Harbor, two scopes in one space-separated value',
        'Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:library/nginx:pull,push repository:library/base:pull"',
        [
          {
            scheme: 'bearer',
            params: {
              realm: 'https://harbor.example.com/service/token',
              service: 'harbor-registry',
              scope: 'repository:library/nginx:pull,push repository:library/base:pull',
            },
          },
        ],
      ],
      ['Harbor, basic fallback', 'Basic realm="harbor"', [{scheme: 'basic', params: {realm: 'harbor'}}]],
      ['distribution htpasswd', 'Basic realm="Registry Realm"', [{scheme: 'basic', params: {realm: 'Registry Realm'}}]],
      [
        'gcr.io, unquoted service',
        'Bearer realm="https://gcr.io/v2/token",service=gcr.io',
        [{scheme: 'bearer', params: {realm: 'https://gcr.io/v2/token', service: 'gcr.io'}}],
      ],
      [
        'Azure ACR',
        'Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io"',
        [{scheme: 'bearer', params: {realm: 'https://myreg.azurecr.io/oauth2/token', service: 'myreg.azurecr.io'}}],
      ],
    ]
    for (const [name, header, want] of table) {
      it(name, () => {
        expect(parseWwwAuthenticate(header)).to.deep.equal(want)
      })
    }
  })

  describe('RFC 7235 syntax', () => {
    const table: Array<[string, string, Challenge[]]> = [
      ['scheme case is folded, values are not', 'BEARER Realm="X",SERVICE="Y"', [{scheme: 'bearer', params: {realm: 'X', service: 'Y'}}]],
      [
        'several challenges in one header',
        'Basic realm="simple", Bearer realm="https://a/token",service="a", Newauth realm="apps", type=1, title="Login to \\"apps\\""',
        [
          {scheme: 'basic', params: {realm: 'simple'}},
          {scheme: 'bearer', params: {realm: 'https://a/token', service: 'a'}},
          {scheme: 'newauth', params: {realm: 'apps', type: '1', title: 'Login to "apps"'}},
        ],
      ],
      [
        'escaped quote and comma inside a quoted-string',
        'Bearer realm="a\\"b,c",service="s"',
        [{scheme: 'bearer', params: {realm: 'a"b,c', service: 's'}}],
      ],
      ['escaped backslash', 'Bearer realm="a\\\\b"', [{scheme: 'bearer', params: {realm: 'a\\b'}}]],
      ['quoted-pair of an ordinary character', 'Bearer realm="\\a\\b"', [{scheme: 'bearer', params: {realm: 'ab'}}]],
      ['empty quoted value', 'Bearer realm="",service="s"', [{scheme: 'bearer', params: {realm: '', service: 's'}}]],
      [
        'unquoted values',
        'Bearer realm=https://auth.example.com/token,service=registry.example.com',
        [{scheme: 'bearer', params: {realm: 'https://auth.example.com/token', service: 'registry.example.com'}}],
      ],
      [
        'spaces around = and commas',
        'Bearer  realm = "r" ,  service =s ,scope= "x"',
        [{scheme: 'bearer', params: {realm: 'r', service: 's', scope: 'x'}}],
      ],
      [
        'tabs and line breaks as whitespace',
        'Bearer\trealm="r",\r\n\tservice="s"',
        [{scheme: 'bearer', params: {realm: 'r', service: 's'}}],
      ],
      [
        'duplicate params: first wins',
        'Bearer realm="first",REALM="second",service="s"',
        [{scheme: 'bearer', params: {realm: 'first', service: 's'}}],
      ],
      ['empty list elements', ', ,Bearer realm="r",, ,service="s",,', [{scheme: 'bearer', params: {realm: 'r', service: 's'}}]],
      ['scheme without params', 'Bearer', [{scheme: 'bearer', params: {}}]],
      [
        'schemes without params, comma separated',
        'Bearer, Basic',
        [
          {scheme: 'bearer', params: {}},
          {scheme: 'basic', params: {}},
        ],
      ],
      [
        'token68',
        'Negotiate YIIBVQYGKwYBBQUCoIIBSTCCAUWgDTAL',
        [{scheme: 'negotiate', params: {}, token68: 'YIIBVQYGKwYBBQUCoIIBSTCCAUWgDTAL'}],
      ],
      [
        'token68 with padding, then another challenge',
        'Negotiate abc+/de==, Basic realm="r"',
        [
          {scheme: 'negotiate', params: {}, token68: 'abc+/de=='},
          {scheme: 'basic', params: {realm: 'r'}},
        ],
      ],
      [
        'missing comma between params',
        'Bearer realm="r" service="s" scope="x"',
        [{scheme: 'bearer', params: {realm: 'r', service: 's', scope: 'x'}}],
      ],
      [
        'missing comma between challenges',
        'Bearer realm="a" Basic realm="b"',
        [
          {scheme: 'bearer', params: {realm: 'a'}},
          {scheme: 'basic', params: {realm: 'b'}},
        ],
      ],
      [
        'unterminated quoted-string runs to the end',
        'Bearer realm="https://a/token,service="s"',
        [{scheme: 'bearer', params: {realm: 'https://a/token,service='}}],
      ],
      ['trailing backslash inside an unterminated string', 'Bearer realm="abc\\', [{scheme: 'bearer', params: {realm: 'abc\\'}}]],
      [
        'junk right after a value is skipped to the next comma',
        'Bearer realm="r"junk"more", service="s"',
        [{scheme: 'bearer', params: {realm: 'r', service: 's'}}],
      ],
      ['param with no value', 'Bearer realm=, service="s"', [{scheme: 'bearer', params: {}, token68: 'realm='}]],
      ['param without scheme is dropped', 'realm="r", Bearer realm="x"', [{scheme: 'bearer', params: {realm: 'x'}}]],
      [
        '"=" with no param name',
        'Bearer =x, Basic realm="b"',
        [
          {scheme: 'bearer', params: {}},
          {scheme: 'basic', params: {realm: 'b'}},
        ],
      ],
      [
        '__proto__ is an ordinary key',
        'Bearer __proto__="x",constructor="y"',
        [{scheme: 'bearer', params: JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>}],
      ],
      ['non-ASCII in a quoted value', 'Basic realm="Registre de l’équipe"', [{scheme: 'basic', params: {realm: 'Registre de l’équipe'}}]],
    ]
    for (const [name, header, want] of table) {
      it(name, () => {
        expect(parseWwwAuthenticate(header)).to.deep.equal(want)
      })
    }

    it('keeps __proto__ as an own property without touching the prototype', () => {
      const [c] = parseWwwAuthenticate('Bearer __proto__="x"')
      expect(Object.getPrototypeOf(c.params)).to.equal(Object.prototype)
      expect(Object.keys(c.params)).to.deep.equal(['__proto__'])
      expect(Object.getOwnPropertyDescriptor(c.params, '__proto__')?.value).to.equal('x')
    })
  })

  describe('inputs', () => {
    it('returns [] for nothing', () => {
      expect(parseWwwAuthenticate(null)).to.deep.equal([])
      expect(parseWwwAuthenticate(undefined)).to.deep.equal([])
      expect(parseWwwAuthenticate('')).to.deep.equal([])
      expect(parseWwwAuthenticate('   ')).to.deep.equal([])
      expect(parseWwwAuthenticate([])).to.deep.equal([])
    })

    it('parses several header values in order, each on its own', () => {
      expect(parseWwwAuthenticate(['Basic realm="unterminated', 'Bearer realm="r"'])).to.deep.equal([
        {scheme: 'basic', params: {realm: 'unterminated'}},
        {scheme: 'bearer', params: {realm: 'r'}},
      ])
    })

    it('ignores non-string array members', () => {
      expect(parseWwwAuthenticate([42, 'Basic realm="r"'] as unknown as string[])).to.deep.equal([{scheme: 'basic', params: {realm: 'r'}}])
    })

    const garbage: Array<[string, Challenge[]]> = [
      ['"', []],
      ['""""', []],
      ['=', []],
      ['===,,,===', []],
      ['\\', []],
      ['@@@ ###', []],
      ['@@@, Basic realm="r"', [{scheme: 'basic', params: {realm: 'r'}}]],
      ['"Bearer realm=x"', []],
      ['\u0000\u0001\u0002', []],
      ['Bearer "quoted"', [{scheme: 'bearer', params: {}}]],
      ['Bearer realm="r", "junk", service="s"', [{scheme: 'bearer', params: {realm: 'r', service: 's'}}]],
    ]
    for (const [header, want] of garbage) {
      it(`survives ${JSON.stringify(header)}`, () => {
        expect(parseWwwAuthenticate(header)).to.deep.equal(want)
      })
    }

    it(`reads at most ${MAX_WWW_AUTHENTICATE_LENGTH} characters in all`, () => {
      const head = 'Bearer realm="r",service="s"'
      const huge = `${head},${'x'.repeat(MAX_WWW_AUTHENTICATE_LENGTH)},Basic realm="late"`
      expect(parseWwwAuthenticate(huge)).to.deep.equal([
        {scheme: 'bearer', params: {realm: 'r', service: 's'}},
        {scheme: 'x'.repeat(MAX_WWW_AUTHENTICATE_LENGTH - head.length - 1), params: {}},
      ])
      const many = [head, 'y'.repeat(MAX_WWW_AUTHENTICATE_LENGTH), 'Basic realm="never read"']
      expect(parseWwwAuthenticate(many).map((c) => c.scheme)).to.deep.equal([
        'bearer',
        'y'.repeat(MAX_WWW_AUTHENTICATE_LENGTH - head.length),
      ])
    })

    it('is fast on huge adversarial inputs', () => {
      const inputs = [
        'Bearer '.repeat(200_000),
        `Bearer realm="${'\\"'.repeat(500_000)}`,
        'a=,'.repeat(300_000),
        `Bearer ${'x="y" '.repeat(200_000)}`,
        '"'.repeat(1_000_000),
        ','.repeat(1_000_000),
      ]
      const {ms} = timed(() => {
        for (const s of inputs) parseWwwAuthenticate(s)
      })
      expect(ms).to.be.below(COMPLEXITY_BOUND_MS)
    })
  })

  it('never throws on 2000 random strings, and stays well-formed', () => {
    // Deterministic PRNG (mulberry32) so a failure can be reproduced.
    let seed = 0x5eed
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = seed
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
    }
    const alphabet = [
      '"',
      '\\',
      '=',
      ',',
      ' ',
      '\t',
      '\r',
      '\n',
      'a',
      'B',
      'r',
      'realm',
      'Bearer',
      'Basic',
      'scope',
      '/',
      ':',
      '+',
      '~',
      '@',
      '\u00e9',
      '\u0000',
      '😀',
      '==',
      '"x"',
    ]
    const inputs: Array<string | string[]> = []
    for (let n = 0; n < 2000; n++) {
      let s = ''
      const len = Math.floor(rand() * (n % 100 === 0 ? 5000 : 80))
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)]
      inputs.push(rand() < 0.1 ? [s, s.slice(1)] : s)
    }
    const results: Challenge[][] = []
    const start = performance.now()
    for (const header of inputs) {
      try {
        results.push(parseWwwAuthenticate(header))
      } catch (error) {
        expect.fail(`threw ${String(error)} on ${JSON.stringify(header)}`)
      }
    }
    const elapsed = performance.now() - start
    const scheme = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
    results.forEach((result, n) => {
      for (const c of result) {
        const ok = scheme.test(c.scheme) && Object.entries(c.params).every(([k, v]) => k === k.toLowerCase() && typeof v === 'string')
        if (!ok) expect.fail(`malformed ${JSON.stringify(c)} from ${JSON.stringify(inputs[n])}`)
      }
    })
    expect(elapsed).to.be.below(COMPLEXITY_BOUND_MS)
  })

  describe('findChallenge', () => {
    it('finds a scheme case-insensitively', () => {
      const challenges = parseWwwAuthenticate('Basic realm="b", Bearer realm="t"')
      expect(findChallenge(challenges, 'BEARER')).to.deep.equal({scheme: 'bearer', params: {realm: 't'}})
      expect(findChallenge(challenges, 'negotiate')).to.equal(undefined)
    })
  })
})
