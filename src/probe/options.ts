// Defaults and name derivation for a probe run. Microsoft's documentation names the external web
// services webext/webdirext and the OWAS farm officewebapps01; real deployments often differ, so
// those three can be given, while the simple URLs and lyncdiscover are fixed by Lync itself.
import type { ProbeNames, ProbeOptions, ResolvedProbeOptions } from './types.js'

export const DEFAULT_DOMAIN = 'contoso.com'
export const DEFAULT_TIMEOUT_MS = 10_000

function lower (name: string): string {
  const n = name.trim().toLowerCase()
  return n.endsWith('.') ? n.slice(0, -1) : n
}

export function probeNames (o: ProbeOptions): ProbeNames {
  const domain = lower(o.domain ?? DEFAULT_DOMAIN)
  const optional = (given: string | null | undefined, fallback: string): string | undefined =>
    given === null || given === '' ? undefined : lower(given ?? fallback)
  const webDirExt = optional(o.webDirExt, `webdirext.${domain}`)
  const owas = optional(o.owas, `officewebapps01.${domain}`)
  return {
    webExt: lower(o.webExt ?? `webext.${domain}`),
    ...(webDirExt === undefined ? {} : { webDirExt }),
    meet: `meet.${domain}`,
    dialin: `dialin.${domain}`,
    lyncdiscover: `lyncdiscover.${domain}`,
    ...(owas === undefined ? {} : { owas }),
    admin: `admin.${domain}`,
  }
}

// Every name the reverse proxy should present a certificate for, in checklist order.
export function publishedNames (names: ProbeNames): string[] {
  return [names.webExt, names.webDirExt, names.meet, names.dialin, names.lyncdiscover, names.owas]
    .filter((n): n is string => n !== undefined)
}

export function resolveProbeOptions (o: ProbeOptions): ResolvedProbeOptions {
  if (o.target.trim() === '') throw new RangeError('the probe needs a target address')
  if ((o.user === undefined) !== (o.password === undefined)) throw new RangeError('--user and --password go together')
  const credentials = o.user === undefined || o.password === undefined
    ? undefined
    : { user: o.user, password: o.password, ntlmUser: o.ntlmUser ?? o.user }
  return {
    target: o.target.trim(),
    domain: lower(o.domain ?? DEFAULT_DOMAIN),
    httpPort: o.httpPort ?? 80,
    httpsPort: o.httpsPort ?? 443,
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(credentials === undefined ? {} : { credentials }),
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(o.longPollSeconds === undefined ? {} : { longPollSeconds: o.longPollSeconds }),
    names: probeNames(o),
  }
}
