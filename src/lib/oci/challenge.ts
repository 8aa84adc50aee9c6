// WWW-Authenticate parsing (RFC 7235 §4.1, RFC 9110 §11.6.1):
//
//   WWW-Authenticate = 1#challenge
//   challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//   auth-param  = token BWS "=" BWS ( token / quoted-string )
//   token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// Commas separate both challenges and parameters: 'name=' after a comma is a
// parameter, a bare token after a comma starts the next challenge.
//
// Registries are not always grammatical, so this is lenient: unquoted values
// may hold any character but comma and whitespace (realm=https://x/token,
// as gcr.io sends), a missing comma between parameters is tolerated, an
// unterminated quoted-string runs to the end, and junk is skipped up to the
// next comma. It never throws, and its work is linear in at most 16 KiB.

export interface Challenge {
  /** Lowercased, e.g. 'bearer', 'basic'. */
  scheme: string
  /** Keys lowercased; the first occurrence of a duplicated key wins. */
  params: Record<string, string>
  /** Set when the challenge carries a token68 instead of parameters (e.g. 'Negotiate YII…'). */
  token68?: string
}

/** Header text parsed at most; the rest is ignored. */
export const MAX_WWW_AUTHENTICATE_LENGTH = 16 * 1024

function isTchar(c: number): boolean {
  // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    c === 0x2a ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5e ||
    c === 0x5f ||
    c === 0x60 ||
    c === 0x7c ||
    c === 0x7e
  )
}

function isToken68Char(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e ||
    c === 0x2b ||
    c === 0x2f
  )
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a
}

const COMMA = 0x2c
const EQUALS = 0x3d
const DQUOTE = 0x22
const BACKSLASH = 0x5c

function setParam(params: Record<string, string>, key: string, value: string): void {
  if (Object.hasOwn(params, key)) return
  // defineProperty so that a key such as '__proto__' is an ordinary own property.
  Object.defineProperty(params, key, {value, enumerable: true, writable: true, configurable: true})
}

class Parser {
  private i = 0
  private readonly n: number

  constructor(private readonly s: string) {
    this.n = s.length
  }

  private code(): number {
    return this.s.charCodeAt(this.i)
  }

  private skipWs(): void {
    while (this.i < this.n && isWs(this.code())) this.i++
  }

  private readToken(): string {
    const start = this.i
    while (this.i < this.n && isTchar(this.code())) this.i++
    return this.s.slice(start, this.i)
  }

  /** Skips at least one character, then up to the next comma outside quotes. */
  private skipJunk(): void {
    do {
      if (this.code() === DQUOTE) this.readQuoted()
      else this.i++
    } while (this.i < this.n && this.code() !== COMMA)
  }

  /** At a DQUOTE: reads a quoted-string, unescaping quoted-pairs; unterminated runs to the end. */
  private readQuoted(): string {
    this.i++ // opening quote
    let out = ''
    let start = this.i
    while (this.i < this.n) {
      const c = this.code()
      if (c === DQUOTE) {
        out += this.s.slice(start, this.i)
        this.i++
        return out
      }
      if (c === BACKSLASH && this.i + 1 < this.n) {
        out += this.s.slice(start, this.i) + this.s[this.i + 1]
        this.i += 2
        start = this.i
        continue
      }
      this.i++
    }
    return out + this.s.slice(start, this.i)
  }

  private readValue(): string {
    if (this.i < this.n && this.code() === DQUOTE) return this.readQuoted()
    const start = this.i
    while (this.i < this.n && this.code() !== COMMA && !isWs(this.code())) this.i++
    return this.s.slice(start, this.i)
  }

  /** Tries token68 followed by end or comma; leaves the position unchanged when it is not one. */
  private tryToken68(): string | undefined {
    const start = this.i
    let j = start
    while (j < this.n && isToken68Char(this.s.charCodeAt(j))) j++
    if (j === start) return undefined
    while (j < this.n && this.s.charCodeAt(j) === EQUALS) j++
    const end = j
    while (j < this.n && isWs(this.s.charCodeAt(j))) j++
    if (j < this.n && this.s.charCodeAt(j) !== COMMA) return undefined
    this.i = j
    return this.s.slice(start, end)
  }

  /** Reads auth-params until the next challenge begins (a token not followed by '=') or the end. */
  private readParams(params: Record<string, string>): void {
    while (this.i < this.n) {
      this.skipWs()
      if (this.i >= this.n) return
      if (this.code() === COMMA) {
        this.i++
        continue
      }
      const start = this.i
      const name = this.readToken()
      if (name === '') {
        this.skipJunk()
        continue
      }
      this.skipWs()
      if (this.i >= this.n || this.code() !== EQUALS) {
        this.i = start // the next challenge's scheme
        return
      }
      this.i++
      this.skipWs()
      const value = this.readValue()
      setParam(params, name.toLowerCase(), value)
      if (this.i < this.n && !isWs(this.code()) && this.code() !== COMMA) this.skipJunk()
    }
  }

  parse(out: Challenge[]): void {
    while (this.i < this.n) {
      while (this.i < this.n && (isWs(this.code()) || this.code() === COMMA)) this.i++
      if (this.i >= this.n) return
      const scheme = this.readToken()
      if (scheme === '' || (this.i < this.n && !isWs(this.code()) && this.code() !== COMMA)) {
        // Not a scheme: a stray parameter ('realm=…' with no scheme) or junk.
        if (scheme === '') this.skipJunk()
        else {
          this.skipWs()
          if (this.i < this.n && this.code() === EQUALS) {
            this.i++
            this.skipWs()
            this.readValue()
          }
          if (this.i < this.n && this.code() !== COMMA) this.skipJunk()
        }
        continue
      }
      const challenge: Challenge = {scheme: scheme.toLowerCase(), params: {}}
      out.push(challenge)
      this.skipWs()
      if (this.i >= this.n || this.code() === COMMA) continue
      if (this.code() === EQUALS) {
        // 'Bearer =x': no parameter name; drop it.
        this.skipJunk()
        continue
      }
      const token68 = this.tryToken68()
      if (token68 === undefined) this.readParams(challenge.params)
      else challenge.token68 = token68
    }
  }
}

/**
 * Parses WWW-Authenticate header values into challenges. Several challenges
 * may share one header, and several headers may be given. Never throws: on
 * garbage it returns what it could parse, possibly [].
 */
export function parseWwwAuthenticate(header: string | readonly string[] | null | undefined): Challenge[] {
  const out: Challenge[] = []
  if (header === null || header === undefined) return out
  const values = typeof header === 'string' ? [header] : Array.isArray(header) ? header : []
  let budget = MAX_WWW_AUTHENTICATE_LENGTH
  for (const value of values) {
    if (budget <= 0) break
    if (typeof value !== 'string') continue
    const text = value.length > budget ? value.slice(0, budget) : value
    budget -= text.length
    try {
      new Parser(text).parse(out)
    } catch {
      // Defensive only: the parser has no throwing paths.
    }
  }
  return out
}

/** The first challenge with the given scheme (case-insensitive), if any. */
export function findChallenge(challenges: readonly Challenge[], scheme: string): Challenge | undefined {
  const want = scheme.toLowerCase()
  return challenges.find((c) => c.scheme === want)
}
