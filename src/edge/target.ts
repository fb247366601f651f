// The path policy. Rules are matched on a normalized path and the same normalized path is forwarded,
// so what the proxy checked is exactly what IIS receives (Envoy's edge advice; the lesson of the %2F,
// `..;` and overlong-UTF-8 bypasses). The query string is never touched: Office Web Apps URLs carry
// double-encoded `%` that must arrive byte for byte.
//
// Refused: anything but origin-form, `#`, `\`, control characters, %00, %2F, %5C, overlong UTF-8, and a
// path that climbs above `/`. Normalized: %-escapes of unreserved characters are decoded, dot-segments
// are removed and runs of `/` are merged.

// Returns the target to match and forward (the same string when nothing needed changing, which is the
// common case and allocates nothing), or null when the target is refused.
export function normalizeTarget (target: string): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) return null
  const q = target.indexOf('?')
  const pathEnd = q < 0 ? target.length : q
  let needsWork = false
  for (let i = 0; i < pathEnd; i++) {
    const c = target.charCodeAt(i)
    if (c < 0x21 || c === 0x7f || c === 35 /* # */ || c === 92 /* \ */) return null
    if (c === 37 /* % */) { needsWork = true; continue }
    if (c === 47 && i + 1 < pathEnd) {
      const n = target.charCodeAt(i + 1)
      if (n === 47 || n === 46 /* . */) needsWork = true
    }
  }
  if (q >= 0 && target.indexOf('#', q) >= 0) return null
  if (!needsWork) return target
  const path = normalizePath(target.slice(0, pathEnd))
  if (path === null) return null
  return q < 0 ? path : path + target.slice(q)
}

const HEX = '0123456789ABCDEF'

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 65 && c <= 70) return c - 55
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

function isUnreserved (b: number): boolean {
  return (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b === 45 || b === 46 || b === 95 || b === 126
}

function normalizePath (path: string): string | null {
  // Pass 1: percent-escapes. Unreserved characters are decoded so that %2e%2e is seen as `..`;
  // everything else stays encoded (upper-cased hex), and the dangerous bytes are refused.
  let decoded = ''
  let prevLead = -1
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c !== 37) { decoded += path[i]; prevLead = -1; continue }
    if (i + 2 >= path.length) return null
    const hi = hexValue(path.charCodeAt(i + 1))
    const lo = hexValue(path.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) return null
    const b = hi * 16 + lo
    if (b === 0 || b === 0x2f || b === 0x5c || b < 0x20 || b === 0x7f) return null
    // Overlong UTF-8 (C0/C1 leads, E0 80–9F, F0 80–8F) has been used to sneak `/` and `.` past filters.
    if (b === 0xc0 || b === 0xc1) return null
    if ((prevLead === 0xe0 && b < 0xa0) || (prevLead === 0xf0 && b < 0x90)) return null
    prevLead = b >= 0xc0 ? b : -1
    if (isUnreserved(b)) decoded += String.fromCharCode(b)
    else decoded += '%' + HEX[hi] + HEX[lo]
    i += 2
  }
  // Pass 2: segments. Empty segments merge; `.` vanishes; `..` removes the previous segment and may
  // never climb above the root.
  const segments = decoded.split('/')
  const out: string[] = []
  const last = segments.length - 1
  for (let i = 1; i <= last; i++) {
    const s = segments[i]!
    if (s === '' && i !== last) continue
    if (s === '.') { if (i === last) out.push(''); continue }
    if (s === '..') {
      if (out.length === 0) return null
      out.pop()
      if (i === last) out.push('')
      continue
    }
    out.push(s)
  }
  return '/' + out.join('/')
}
