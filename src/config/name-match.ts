// How a published name and a path prefix compare with what a client sends. Public names are matched
// the way TMG matched them: case-insensitively, ignoring a trailing dot and the port. Paths are
// matched case-insensitively on segment boundaries, as IIS (the Lync web services' server) treats
// paths. The config owns these definitions, and both their users read them from here: the routing
// table on the hot path (routing/match.ts), and the shadowed-rule check (shadowing.ts), so a rule
// reported shadowed is one the data plane would indeed never reach.

const CODE_A = 65
const CODE_Z = 90
const CODE_SLASH = 47
const CODE_QUESTION = 63
const CODE_DOT = 46

// Returns the name a routing table is keyed by: lower-case, no port, no trailing dot.
// Returns '' for a value that cannot be a DNS name, so it never matches a published one.
export function normalizeHost (host: string): string {
  let end = host.length
  if (end === 0) return ''
  if (host.charCodeAt(0) === 91 /* [ */) {
    // IPv6 literal: never a published name, but keep it distinct and harmless.
    const close = host.indexOf(']')
    return close < 0 ? '' : host.slice(0, close + 1).toLowerCase()
  }
  const colon = host.indexOf(':')
  if (colon >= 0) {
    if (!isDigits(host, colon + 1, host.length)) return ''
    end = colon
  }
  if (end > 0 && host.charCodeAt(end - 1) === CODE_DOT) end--
  let clean = true
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i)
    if (c >= CODE_A && c <= CODE_Z) { clean = false; continue }
    if (!isHostChar(c)) return ''
  }
  const name = end === host.length ? host : host.slice(0, end)
  return clean ? name : name.toLowerCase()
}

function isHostChar (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 /* - */ || c === CODE_DOT || c === 95 /* _ */
}

function isDigits (s: string, from: number, to: number): boolean {
  if (from >= to) return false
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

// True when `url` (an origin-form target, path plus optional query) starts with the lower-case
// `prefix` on a segment boundary: '/abs' matches '/abs', '/abs/handler', '/ABS?x', not '/absx'.
// Compares character codes so that no lower-cased copy of the path is made per request.
export function hasPathPrefix (url: string, prefix: string): boolean {
  const n = prefix.length
  if (n === 1) return true // '/' publishes everything
  if (url.length < n) return false
  for (let i = 0; i < n; i++) {
    let c = url.charCodeAt(i)
    if (c >= CODE_A && c <= CODE_Z) c += 32
    if (c !== prefix.charCodeAt(i)) return false
  }
  if (url.length === n) return true
  if (prefix.charCodeAt(n - 1) === CODE_SLASH) return true
  const next = url.charCodeAt(n)
  return next === CODE_SLASH || next === CODE_QUESTION
}

// The first label removed: 'meet.contoso.com' → 'contoso.com', for wildcard public names.
export function parentDomain (name: string): string {
  const dot = name.indexOf('.')
  return dot < 0 ? '' : name.slice(dot + 1)
}
