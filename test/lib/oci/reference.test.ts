import {expect} from 'chai'
import {usageError} from '../usage-error.js'

import {
  isLoopbackHost,
  parseImageReference,
  parseRegistry,
  validateDigest,
  validateRepository,
  validateTag,
} from '../../../src/lib/oci/reference.js'
import {COMPLEXITY_BOUND_MS, timed} from '../time-bound.js'

const HEX64 = 'a'.repeat(64)
const HEX128 = 'b'.repeat(128)

describe('oci/reference', () => {
  describe('parseRegistry', () => {
    const ok: Array<[string, {host: string; scheme: 'http' | 'https'; display: string}]> = [
      ['ghcr.io', {host: 'ghcr.io', scheme: 'https', display: 'ghcr.io'}],
      ['ghcr.io/', {host: 'ghcr.io', scheme: 'https', display: 'ghcr.io'}],
      ['  quay.io  ', {host: 'quay.io', scheme: 'https', display: 'quay.io'}],
      ['GHCR.io', {host: 'ghcr.io', scheme: 'https', display: 'ghcr.io'}],
      ['registry.example.com:8443', {host: 'registry.example.com:8443', scheme: 'https', display: 'registry.example.com:8443'}],
      [
        '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        {host: '123456789012.dkr.ecr.us-east-1.amazonaws.com', scheme: 'https', display: '123456789012.dkr.ecr.us-east-1.amazonaws.com'},
      ],
      ['https://ghcr.io', {host: 'ghcr.io', scheme: 'https', display: 'ghcr.io'}],
      ['https://ghcr.io//', {host: 'ghcr.io', scheme: 'https', display: 'ghcr.io'}],
      ['http://registry.internal:5000', {host: 'registry.internal:5000', scheme: 'http', display: 'registry.internal:5000'}],
      ['HTTP://registry.internal', {host: 'registry.internal', scheme: 'http', display: 'registry.internal'}],
      ['localhost', {host: 'localhost', scheme: 'http', display: 'localhost'}],
      ['localhost:5000', {host: 'localhost:5000', scheme: 'http', display: 'localhost:5000'}],
      ['https://localhost:5000/', {host: 'localhost:5000', scheme: 'https', display: 'localhost:5000'}],
      ['127.0.0.1:5000', {host: '127.0.0.1:5000', scheme: 'http', display: '127.0.0.1:5000'}],
      ['127.8.9.10', {host: '127.8.9.10', scheme: 'http', display: '127.8.9.10'}],
      ['10.0.0.5:5000', {host: '10.0.0.5:5000', scheme: 'https', display: '10.0.0.5:5000'}],
      ['[::1]:5000', {host: '[::1]:5000', scheme: 'http', display: '[::1]:5000'}],
      ['[::1]', {host: '[::1]', scheme: 'http', display: '[::1]'}],
      ['::1', {host: '[::1]', scheme: 'http', display: '[::1]'}],
      ['[0:0:0:0:0:0:0:1]:80', {host: '[0:0:0:0:0:0:0:1]:80', scheme: 'http', display: '[0:0:0:0:0:0:0:1]:80'}],
      ['[2001:DB8::5]:5000', {host: '[2001:db8::5]:5000', scheme: 'https', display: '[2001:db8::5]:5000'}],
      ['localhost:05000', {host: 'localhost:5000', scheme: 'http', display: 'localhost:5000'}],
      ['docker.io', {host: 'registry-1.docker.io', scheme: 'https', display: 'docker.io'}],
      ['https://docker.io/', {host: 'registry-1.docker.io', scheme: 'https', display: 'docker.io'}],
      ['index.docker.io', {host: 'registry-1.docker.io', scheme: 'https', display: 'index.docker.io'}],
      ['registry-1.docker.io', {host: 'registry-1.docker.io', scheme: 'https', display: 'registry-1.docker.io'}],
    ]
    for (const [input, want] of ok) {
      it(`accepts ${JSON.stringify(input)}`, () => {
        expect(parseRegistry(input)).to.deep.equal({...want, baseUrl: `${want.scheme}://${want.host}`})
      })
    }

    const bad: Array<[string, string]> = [
      ['', 'Invalid --registry "": the registry is empty; pass host[:port], e.g. "ghcr.io" or "localhost:5000".'],
      [
        'ghcr.io/myorg',
        'Invalid --registry "ghcr.io/myorg": the registry is host[:port] without a path; try "ghcr.io" and put "myorg" in the repository name.',
      ],
      [
        'https://ghcr.io/v2/',
        'Invalid --registry "https://ghcr.io/v2/": the registry is host[:port] without a path; try "ghcr.io" and put "v2" in the repository name.',
      ],
      ['oci://ghcr.io', 'Invalid --registry "oci://ghcr.io": only http:// and https:// prefixes are supported, not oci://; try "ghcr.io".'],
      [
        'docker://ghcr.io/',
        'Invalid --registry "docker://ghcr.io/": only http:// and https:// prefixes are supported, not docker://; try "ghcr.io".',
      ],
      [
        'ghcr.io:99999',
        'Invalid --registry "ghcr.io:99999": port "99999" in "ghcr.io:99999" is not a number from 1 to 65535; use a valid port, e.g. "ghcr.io:5000", or none.',
      ],
      [
        'ghcr.io:',
        'Invalid --registry "ghcr.io:": port "" in "ghcr.io:" is not a number from 1 to 65535; use a valid port, e.g. "ghcr.io:5000", or none.',
      ],
      [
        'ghcr.io:0',
        'Invalid --registry "ghcr.io:0": port "0" in "ghcr.io:0" is not a number from 1 to 65535; use a valid port, e.g. "ghcr.io:5000", or none.',
      ],
      [
        'my_registry',
        'Invalid --registry "my_registry": "my_registry" is not a valid host name (letters, digits and inner hyphens, separated by dots); check the spelling, e.g. "ghcr.io" or "localhost:5000".',
      ],
      [
        '-bad.example.com',
        'Invalid --registry "-bad.example.com": "-bad.example.com" is not a valid host name (letters, digits and inner hyphens, separated by dots); check the spelling, e.g. "ghcr.io" or "localhost:5000".',
      ],
      [
        'ghcr..io',
        'Invalid --registry "ghcr..io": "ghcr..io" is not a valid host name (letters, digits and inner hyphens, separated by dots); check the spelling, e.g. "ghcr.io" or "localhost:5000".',
      ],
      ['ghcr io', 'Invalid --registry "ghcr io": the registry may not contain spaces, "?" or "#"; pass host[:port], e.g. "ghcr.io".'],
      [
        'ghcr.io?x=1',
        'Invalid --registry "ghcr.io?x=1": the registry may not contain spaces, "?" or "#"; pass host[:port], e.g. "ghcr.io".',
      ],
      [
        '[::zz]:5000',
        'Invalid --registry "[::zz]:5000": "[::zz]:5000" is not a valid bracketed IPv6 address; write IPv6 addresses in brackets, e.g. "[::1]:5000".',
      ],
      [
        '[::1]:99999',
        'Invalid --registry "[::1]:99999": port "99999" in "[::1]:99999" is not a number from 1 to 65535; use a valid port, e.g. "[::1]:5000", or none.',
      ],
      [
        'fe80::1:5000:x',
        'Invalid --registry "fe80::1:5000:x": "fe80::1:5000:x" is not a valid host; write IPv6 addresses in brackets, e.g. "[::1]:5000".',
      ],
    ]
    for (const [input, message] of bad) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        expect(usageError(() => parseRegistry(input)).message).to.equal(message)
      })
    }

    it('never echoes a password typed into the registry address', () => {
      for (const input of ['alice:hunter2@ghcr.io', 'https://alice:hunter2@ghcr.io/', 'http://alice:hunter2@localhost:5000']) {
        const e = usageError(() => parseRegistry(input))
        expect(e.message).to.not.include('hunter2')
        expect(e.message).to.not.include('alice')
        expect(e.message).to.include('credentials do not belong in the registry address')
      }
      expect(usageError(() => parseRegistry('https://alice:hunter2@ghcr.io/')).message).to.equal(
        'Invalid --registry "https://***@ghcr.io/": credentials do not belong in the registry address; try "ghcr.io" and set OCI_USERNAME/OCI_PASSWORD or run "docker login" instead.',
      )
    })

    it('names another flag when asked to', () => {
      expect(usageError(() => parseRegistry('a/b', '--source-registry')).message).to.match(/^Invalid --source-registry "a\/b": /)
    })
  })

  describe('isLoopbackHost', () => {
    const table: Array<[string, boolean]> = [
      ['localhost', true],
      ['LOCALHOST:5000', true],
      ['localhost.', true],
      ['127.0.0.1', true],
      ['127.0.0.1:5000', true],
      ['127.255.255.254', true],
      ['::1', true],
      ['[::1]', true],
      ['[::1]:5000', true],
      ['[0:0:0:0:0:0:0:1]:5000', true],
      ['[::ffff:127.0.0.1]', true],
      ['128.0.0.1', false],
      ['10.0.0.1', false],
      ['0.0.0.0', false],
      ['[::2]', false],
      ['[::]', false],
      ['localhost.example.com', false],
      ['mylocalhost', false],
      ['ghcr.io', false],
      ['[::1', false],
      ['', false],
    ]
    for (const [host, want] of table) {
      it(`${JSON.stringify(host)} → ${want}`, () => {
        expect(isLoopbackHost(host)).to.equal(want)
      })
    }
  })

  describe('validateRepository', () => {
    const valid = [
      'a',
      'foo',
      'myorg/mymodel',
      'a/b/c/d',
      'a.b',
      'a_b',
      'a__b',
      'a-b',
      'a---b',
      'a.b-c_d__e/f',
      '0',
      'library/ubuntu',
      'ghcr.io/org/name',
      'x'.repeat(255),
    ]
    for (const name of valid) {
      it(`accepts ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
        expect(validateRepository(name)).to.equal(name)
      })
    }

    const shape = 'repository names must be [a-z0-9] components separated by . _ __ - or /, each starting and ending with a letter or digit'
    const bad: Array<[string, string]> = [
      ['Foo', 'Invalid --target-repo "Foo": repository names must be lowercase ([a-z0-9] separated by . _ __ - or /); try "foo".'],
      [
        'MyOrg/My_Model',
        'Invalid --target-repo "MyOrg/My_Model": repository names must be lowercase ([a-z0-9] separated by . _ __ - or /); try "myorg/my_model".',
      ],
      [
        'Org/Llama 3 (8B)',
        'Invalid --target-repo "Org/Llama 3 (8B)": repository names must be lowercase ([a-z0-9] separated by . _ __ - or /); try "org/llama-3-8b".',
      ],
      ['', 'Invalid --target-repo "": the repository name is empty; pass a name such as "myorg/mymodel".'],
      ['a//b', `Invalid --target-repo "a//b": ${shape}; try "a/b".`],
      ['/a', `Invalid --target-repo "/a": ${shape}; try "a".`],
      ['a/', `Invalid --target-repo "a/": ${shape}; try "a".`],
      ['-a', `Invalid --target-repo "-a": ${shape}; try "a".`],
      ['a-', `Invalid --target-repo "a-": ${shape}; try "a".`],
      ['.a', `Invalid --target-repo ".a": ${shape}; try "a".`],
      ['_a', `Invalid --target-repo "_a": ${shape}; try "a".`],
      ['a___b', `Invalid --target-repo "a___b": ${shape}; try "a-b".`],
      ['a..b', `Invalid --target-repo "a..b": ${shape}; try "a-b".`],
      ['a.-b', `Invalid --target-repo "a.-b": ${shape}; try "a-b".`],
      ['a b', `Invalid --target-repo "a b": ${shape}; try "a-b".`],
      ['gpt2+q4', `Invalid --target-repo "gpt2+q4": ${shape}; try "gpt2-q4".`],
      ['---', `Invalid --target-repo "---": ${shape}; use a name like "myorg/mymodel".`],
      ['org/model:v1', 'Invalid --target-repo "org/model:v1": a repository name cannot include a tag or digest; try "org/model".'],
      [
        `org/model@sha256:${HEX64}`,
        `Invalid --target-repo "org/model@sha256:${HEX64}": a repository name cannot include a tag or digest; try "org/model".`,
      ],
      [
        'localhost:5000/foo',
        'Invalid --target-repo "localhost:5000/foo": the registry "localhost:5000" does not belong in the repository name; pass it as --registry and try "foo".',
      ],
      [
        'x'.repeat(256),
        `Invalid --target-repo "${'x'.repeat(120)}…": the name is 256 characters, over the 255-character limit; use a shorter repository name.`,
      ],
    ]
    for (const [name, message] of bad) {
      it(`rejects ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
        expect(usageError(() => validateRepository(name)).message).to.equal(message)
      })
    }

    it('counts the host toward the 255-character limit when given', () => {
      const name = 'x'.repeat(247) // 'ghcr.io/' is 8 characters: 255 in all
      expect(validateRepository(name, '--target-repo', 'ghcr.io')).to.equal(name)
      expect(usageError(() => validateRepository(`${name}y`, '--target-repo', 'ghcr.io')).message).to.equal(
        `Invalid --target-repo "${'x'.repeat(120)}…": "ghcr.io/…" plus the name is 256 characters, over the 255-character limit; use a shorter repository name.`,
      )
    })

    it('uses the flag it is given', () => {
      expect(usageError(() => validateRepository('Foo', '--repo')).message).to.match(/^Invalid --repo "Foo": /)
    })

    it('stays fast on long adversarial input', () => {
      const {ms} = timed(() => {
        for (const s of ['a-'.repeat(50_000), `${'a_'.repeat(50_000)}!`, `${'a'.repeat(100_000)}-`]) usageError(() => validateRepository(s))
      })
      expect(ms).to.be.below(COMPLEXITY_BOUND_MS)
    })
  })

  describe('validateTag', () => {
    const valid = ['latest', 'v1', 'v1.0.0', '1', '_x', 'A-b_c.D', 'main', 'x'.repeat(128)]
    for (const tag of valid) {
      it(`accepts ${JSON.stringify(tag.length > 40 ? `${tag.slice(0, 10)}…` : tag)}`, () => {
        expect(validateTag(tag)).to.equal(tag)
      })
    }

    const rule = 'tags may only use letters, digits, "_", "." and "-", and cannot start with "." or "-"'
    const bad: Array<[string, string]> = [
      ['', 'Invalid --tag "": the tag is empty; pass a tag such as "v1" or "latest".'],
      ['refs/pr/1', `Invalid --tag "refs/pr/1": ${rule}; try "refs-pr-1".`],
      ['.hidden', `Invalid --tag ".hidden": ${rule}; try "hidden".`],
      ['-rc1', `Invalid --tag "-rc1": ${rule}; try "rc1".`],
      ['v1+build', `Invalid --tag "v1+build": ${rule}; try "v1-build".`],
      ['v1 final', `Invalid --tag "v1 final": ${rule}; try "v1-final".`],
      ['🙂', `Invalid --tag "🙂": ${rule}; use a tag like "v1".`],
      ['x'.repeat(129), `Invalid --tag "${'x'.repeat(120)}…": tags are at most 128 characters, this one has 129; use a shorter tag.`],
    ]
    for (const [tag, message] of bad) {
      it(`rejects ${JSON.stringify(tag.length > 40 ? `${tag.slice(0, 10)}…` : tag)}`, () => {
        expect(usageError(() => validateTag(tag)).message).to.equal(message)
      })
    }

    it('uses the flag it is given', () => {
      expect(usageError(() => validateTag('a/b', '--revision-tag')).message).to.equal(`Invalid --revision-tag "a/b": ${rule}; try "a-b".`)
    })
  })

  describe('validateDigest', () => {
    it('accepts sha256 and sha512 digests', () => {
      expect(validateDigest(`sha256:${HEX64}`)).to.equal(`sha256:${HEX64}`)
      expect(validateDigest(`sha512:${HEX128}`)).to.equal(`sha512:${HEX128}`)
    })

    const bad: Array<[string, string]> = [
      [`sha256:${'A'.repeat(64)}`, `Invalid digest "sha256:${'A'.repeat(64)}": digest hex must be lowercase; try "sha256:${HEX64}".`],
      [HEX64, `Invalid digest "${HEX64}": the algorithm prefix is missing; try "sha256:${HEX64}".`],
      ['sha256:abc', 'Invalid digest "sha256:abc": a sha256 digest has 64 hex digits, this one has 3; check that it was not truncated.'],
      [
        `sha512:${HEX64}`,
        `Invalid digest "sha512:${HEX64}": a sha512 digest has 128 hex digits, this one has 64; check that it was not truncated.`,
      ],
      [
        `md5:${'a'.repeat(32)}`,
        `Invalid digest "md5:${'a'.repeat(32)}": expected sha256:<64 lowercase hex digits> (or sha512:<128>); copy the digest exactly as the registry printed it.`,
      ],
      [
        '',
        'Invalid digest "": expected sha256:<64 lowercase hex digits> (or sha512:<128>); copy the digest exactly as the registry printed it.',
      ],
      [
        `sha256:${'g'.repeat(64)}`,
        `Invalid digest "sha256:${'g'.repeat(64)}": expected sha256:<64 lowercase hex digits> (or sha512:<128>); copy the digest exactly as the registry printed it.`,
      ],
    ]
    for (const [d, message] of bad) {
      it(`rejects ${JSON.stringify(d.slice(0, 20))}`, () => {
        expect(usageError(() => validateDigest(d)).message).to.equal(message)
      })
    }

    it('uses the flag it is given', () => {
      expect(usageError(() => validateDigest('sha256:abc', '--digest')).message).to.equal(
        'Invalid --digest "sha256:abc": a sha256 digest has 64 hex digits, this one has 3; check that it was not truncated.',
      )
    })
  })

  describe('parseImageReference', () => {
    const hub = {host: 'registry-1.docker.io', scheme: 'https', baseUrl: 'https://registry-1.docker.io', display: 'docker.io'}
    const ghcr = {host: 'ghcr.io', scheme: 'https', baseUrl: 'https://ghcr.io', display: 'ghcr.io'}
    const local = {host: 'localhost:5000', scheme: 'http', baseUrl: 'http://localhost:5000', display: 'localhost:5000'}
    const digest = `sha256:${HEX64}`
    const ok: Array<[string, object]> = [
      ['ghcr.io/org/model:v1', {registry: ghcr, repository: 'org/model', tag: 'v1'}],
      [`ghcr.io/org/model@${digest}`, {registry: ghcr, repository: 'org/model', digest}],
      [`ghcr.io/org/model:v1@${digest}`, {registry: ghcr, repository: 'org/model', tag: 'v1', digest}],
      [`ghcr.io/org/model@sha512:${HEX128}`, {registry: ghcr, repository: 'org/model', digest: `sha512:${HEX128}`}],
      ['localhost:5000/model:latest', {registry: local, repository: 'model', tag: 'latest'}],
      [
        'localhost/model:1',
        {registry: {host: 'localhost', scheme: 'http', baseUrl: 'http://localhost', display: 'localhost'}, repository: 'model', tag: '1'},
      ],
      [
        '[::1]:5000/a/b:c',
        {registry: {host: '[::1]:5000', scheme: 'http', baseUrl: 'http://[::1]:5000', display: '[::1]:5000'}, repository: 'a/b', tag: 'c'},
      ],
      [
        '127.0.0.1:5000/m:t',
        {
          registry: {host: '127.0.0.1:5000', scheme: 'http', baseUrl: 'http://127.0.0.1:5000', display: '127.0.0.1:5000'},
          repository: 'm',
          tag: 't',
        },
      ],
      [
        'https://localhost:5000/model:v1',
        {registry: {...local, scheme: 'https', baseUrl: 'https://localhost:5000'}, repository: 'model', tag: 'v1'},
      ],
      [
        'http://registry.internal/team/model:v1',
        {
          registry: {host: 'registry.internal', scheme: 'http', baseUrl: 'http://registry.internal', display: 'registry.internal'},
          repository: 'team/model',
          tag: 'v1',
        },
      ],
      [
        'http://myregistry/model:v1',
        {
          registry: {host: 'myregistry', scheme: 'http', baseUrl: 'http://myregistry', display: 'myregistry'},
          repository: 'model',
          tag: 'v1',
        },
      ],
      ['ubuntu:22.04', {registry: hub, repository: 'library/ubuntu', tag: '22.04'}],
      [`ubuntu@${digest}`, {registry: hub, repository: 'library/ubuntu', digest}],
      ['myorg/model:v1', {registry: hub, repository: 'myorg/model', tag: 'v1'}],
      ['docker.io/ubuntu:22.04', {registry: hub, repository: 'library/ubuntu', tag: '22.04'}],
      ['index.docker.io/myorg/model:v1', {registry: {...hub, display: 'index.docker.io'}, repository: 'myorg/model', tag: 'v1'}],
      ['registry-1.docker.io/ubuntu:1', {registry: {...hub, display: 'registry-1.docker.io'}, repository: 'library/ubuntu', tag: '1'}],
      [
        'Registry.Example.com/a:b',
        {
          registry: {
            host: 'registry.example.com',
            scheme: 'https',
            baseUrl: 'https://registry.example.com',
            display: 'registry.example.com',
          },
          repository: 'a',
          tag: 'b',
        },
      ],
      ['  ghcr.io/org/model:v1  ', {registry: ghcr, repository: 'org/model', tag: 'v1'}],
    ]
    for (const [ref, want] of ok) {
      it(`parses ${JSON.stringify(ref.length > 60 ? `${ref.slice(0, 40)}…` : ref)}`, () => {
        expect(parseImageReference(ref)).to.deep.equal(want)
      })
    }

    const bad: Array<[string, string]> = [
      ['', 'Invalid image reference "": it is empty; pass registry/repository:tag, e.g. "ghcr.io/myorg/mymodel:v1".'],
      [
        'ghcr.io/org/model',
        'Invalid image reference "ghcr.io/org/model": it names no tag or digest; add one, e.g. "ghcr.io/org/model:latest" or "ghcr.io/org/model@sha256:<digest>".',
      ],
      ['ubuntu', 'Invalid image reference "ubuntu": it names no tag or digest; add one, e.g. "ubuntu:latest" or "ubuntu@sha256:<digest>".'],
      [
        'ghcr.io/Org/Model:v1',
        'Invalid image reference "ghcr.io/Org/Model:v1": the repository "Org/Model" is invalid: repository names must be lowercase ([a-z0-9] separated by . _ __ - or /); try "org/model".',
      ],
      [
        'ghcr.io/org/model:-v1',
        'Invalid image reference "ghcr.io/org/model:-v1": the tag "-v1" is invalid: tags may only use letters, digits, "_", "." and "-", and cannot start with "." or "-"; try "v1".',
      ],
      [
        'ghcr.io/org/model:',
        'Invalid image reference "ghcr.io/org/model:": the tag "" is invalid: the tag is empty; pass a tag such as "v1" or "latest".',
      ],
      [
        'ghcr.io/org/model@sha256:abc',
        'Invalid image reference "ghcr.io/org/model@sha256:abc": the digest "sha256:abc" is invalid: a sha256 digest has 64 hex digits, this one has 3; check that it was not truncated.',
      ],
      [
        'ghcr.io/org/model@latest',
        'Invalid image reference "ghcr.io/org/model@latest": the digest "latest" is invalid: expected sha256:<64 lowercase hex digits> (or sha512:<128>); copy the digest exactly as the registry printed it.',
      ],
      [
        'oci://ghcr.io/org/model:v1',
        'Invalid image reference "oci://ghcr.io/org/model:v1": only http:// and https:// prefixes are supported, not oci://; try "ghcr.io/org/model:v1".',
      ],
      [
        'https://localhost:5000',
        'Invalid image reference "https://localhost:5000": with an http:// or https:// prefix the reference must be registry/repository; e.g. "https://localhost:5000/mymodel:v1".',
      ],
      [
        'ghcr.io/:v1',
        'Invalid image reference "ghcr.io/:v1": the repository "" is invalid: the repository name is empty; pass a name such as "myorg/mymodel".',
      ],
      [
        'ghcr.io//model:v1',
        'Invalid image reference "ghcr.io//model:v1": the repository "/model" is invalid: repository names must be [a-z0-9] components separated by . _ __ - or /, each starting and ending with a letter or digit; try "model".',
      ],
      [
        'ghcr.io:99999/model:v1',
        'Invalid image reference "ghcr.io:99999/model:v1": the registry is invalid: port "99999" in "ghcr.io:99999" is not a number from 1 to 65535; use a valid port, e.g. "ghcr.io:5000", or none.',
      ],
      [
        `ghcr.io/${'x'.repeat(250)}:v1`,
        `Invalid image reference "ghcr.io/${'x'.repeat(112)}…": the repository "${'x'.repeat(120)}…" is invalid: "ghcr.io/…" plus the name is 258 characters, over the 255-character limit; use a shorter repository name.`,
      ],
    ]
    for (const [ref, message] of bad) {
      it(`rejects ${JSON.stringify(ref.length > 60 ? `${ref.slice(0, 40)}…` : ref)}`, () => {
        expect(usageError(() => parseImageReference(ref)).message).to.equal(message)
      })
    }

    it('never echoes credentials typed into a reference', () => {
      for (const ref of [
        'alice:hunter2@ghcr.io/org/model:v1',
        'https://alice:hunter2@ghcr.io/org/model:v1',
        'alice:hunter2@host',
        'alice:hunter2@host:5000',
        'alice:hunter2@localhost',
      ]) {
        const e = usageError(() => parseImageReference(ref))
        expect(e.message, ref).to.not.include('hunter2')
        expect(e.message, ref).to.include('credentials do not belong in an image reference')
      }
      expect(usageError(() => parseImageReference('https://alice:hunter2@ghcr.io/org/model:v1')).message).to.equal(
        'Invalid image reference "https://***@ghcr.io/org/model:v1": credentials do not belong in an image reference; set OCI_USERNAME/OCI_PASSWORD or run "docker login" instead.',
      )
    })
  })
})
