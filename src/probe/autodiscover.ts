// Autodiscover through the proxy, as Lync Mobile, UCWA apps and Microsoft's own checklist see it:
// lyncdiscover over HTTP (forwarded, not redirected), over HTTPS in its three representations, the
// GeoDNS health probe on the external web services FQDNs, where the pool thinks the client is
// (AccessLocation), and the OAuth challenge of the user resource.
import { fail, pass, skip, warn, type ProbeContext } from './context.js'
import { answered, describeError, errorCause, statusCause } from './diagnose.js'
import { parseHal, parseOcdisc, tokens, type ParsedDiscovery } from './discovery.js'
import { headerLines, ProbeTimeoutError, type ProbeResponse } from './http.js'
import type { ProbeResult } from './types.js'

const SERVICE = '/Autodiscover/AutodiscoverService.svc'
// Microsoft's GeoDNS health probe, spelled as the documentation spells it.
const HEALTH_PATH = '/autodiscover/autodiscoverservice.svc/root'
const XML_TYPE = 'application/vnd.microsoft.rtc.autodiscover+xml'

export function sipUri (ctx: ProbeContext): string {
  const user = ctx.options.credentials?.user
  return user !== undefined && user.includes('@') ? user.replace(/^sip:/i, '') : `user1@${ctx.options.domain}`
}

function contentType (res: ProbeResponse): string {
  return String(res.headers['content-type'] ?? '')
}

async function lyncdiscoverHttp (ctx: ProbeContext): Promise<ProbeResult> {
  const name = ctx.names.lyncdiscover
  const port = ctx.options.httpPort
  // Without HTTP the only way in is HTTPS, which needs lyncdiscover on the certificate.
  const unpublished = (detail: string): ProbeResult => ctx.verdict('tls', name) === 'PASS'
    ? warn('lyncdiscover-http', name, detail, 'not published on port 80: fine while the certificate carries lyncdiscover (clients fall back to HTTPS); publishing it on 80 to the pool\'s 8080 is the alternative to the SAN entry')
    : fail('lyncdiscover-http', name, detail, 'autodiscover is reachable neither over HTTPS (see the tls row) nor over HTTP: forward lyncdiscover on port 80 to the pool\'s 8080, or put it on the certificate')
  const path = `/?sipuri=${sipUri(ctx)}`
  try {
    const res = await ctx.send({ scheme: 'http', name, path })
    if (res.status >= 300 && res.status < 400) {
      return fail('lyncdiscover-http', name, `lyncdiscover on :${port} answered ${res.status}${res.headers.location === undefined ? '' : ` to ${res.headers.location}`}`,
        'the rule redirects to HTTPS, so mobile clients that try HTTP first fail; forward it to the pool\'s 8080')
    }
    if (res.status === 404 && res.headers['x-ms-server-fqdn'] === undefined) return unpublished(`lyncdiscover on :${port} answered 404 from the proxy`)
    if (res.status !== 200) return fail('lyncdiscover-http', name, `lyncdiscover on :${port} answered ${answered(res)}`, statusCause(res, name))
    const doc = parseOcdisc(res.body, contentType(res))
    if (doc === undefined) {
      return fail('lyncdiscover-http', name, `lyncdiscover on :${port} answered 200 but not with autodiscover (${contentType(res) || 'no content type'})`,
        'port 80 for lyncdiscover reaches something other than the Lync pool: forward it to the Director or Front End pool\'s 8080')
    }
    const redirect = doc.links.length === 1 && doc.links[0]!.token === 'Redirect' ? doc.links[0]!.href : undefined
    if (redirect !== undefined && redirect.toLowerCase().startsWith('https://')) return pass('lyncdiscover-http', name, `200 with a single Redirect link to ${redirect}`)
    return warn('lyncdiscover-http', name, `200 over HTTP with ${tokens(doc)} instead of one Redirect link to HTTPS`,
      'the pool answered as if the request came over HTTPS: the proxy bridges port 80 to the pool\'s SSL port; bridge it to 8080 so the pool sends clients on to HTTPS')
  } catch (err) {
    if (err instanceof ProbeTimeoutError || /ECONNREFUSED|ECONNRESET/.test(describeError(err))) {
      return unpublished(`nothing answered lyncdiscover on :${port} (${describeError(err)})`)
    }
    return fail('lyncdiscover-http', name, `GET http://${name}${path}: ${describeError(err)}`, errorCause(err, `${ctx.options.target}:${port}`))
  }
}

interface Representation {
  check: string
  label: string
  accept?: string
  path: string
  judge: (res: ProbeResponse) => { ok: boolean, detail: string, doc?: ParsedDiscovery, cause?: string }
}

// Over HTTP, autodiscover answers every resource with one Redirect link to HTTPS (MS-OCDISCWS). An
// HTTPS request answered that way reached the pool's HTTP site: the proxy decrypted it and sent it
// on to 8080, and a client following the link comes back to the same place.
const TLS_OFFLOAD_CAUSE = 'the proxy offloads TLS: it sends HTTPS requests to the pool\'s HTTP port (8080), where autodiscover only answers with a Redirect to HTTPS, so clients go round in a loop; bridge 443 to the pool\'s HTTPS port 4443'

function redirectOnly (doc: ParsedDiscovery): string | undefined {
  return doc.links.length === 1 && doc.links[0]!.token === 'Redirect' ? doc.links[0]!.href : undefined
}

function representations (ctx: ProbeContext): Representation[] {
  return [
    {
      check: 'lyncdiscover-json',
      label: 'MS-OCDISCWS JSON (no Accept)',
      path: '/',
      judge: (res) => {
        const doc = contentType(res).includes('json') ? parseOcdisc(res.body, contentType(res)) : undefined
        if (doc === undefined || doc.element === undefined) return { ok: false, detail: `200 but not MS-OCDISCWS JSON (${contentType(res) || 'no content type'})` }
        return { ok: true, detail: `AccessLocation ${doc.accessLocation ?? '(none)'}, ${doc.element} links ${tokens(doc)}`, doc }
      },
    },
    {
      check: 'lyncdiscover-ucwa',
      label: 'UCWA JSON (Accept: application/json)',
      accept: 'application/json',
      path: '/',
      judge: (res) => {
        const links = parseHal(res.body)
        if (links === undefined) return { ok: false, detail: `200 but no UCWA _links (${contentType(res) || 'no content type'})` }
        if (links.redirect !== undefined) return { ok: false, detail: `only a redirect link, to ${links.redirect}, over HTTPS`, cause: TLS_OFFLOAD_CAUSE }
        const missing = ['self', 'user', 'xframe'].filter((rel) => links[rel] === undefined)
        if (missing.length > 0) return { ok: false, detail: `_links without ${missing.join(', ')}` }
        return { ok: true, detail: `_links self, user (${links.user}), xframe` }
      },
    },
    {
      check: 'lyncdiscover-xml',
      label: 'MS-OCDISCWS XML',
      accept: `${XML_TYPE};v=1`,
      path: `/?sipuri=${sipUri(ctx)}`,
      judge: (res) => {
        const doc = contentType(res).toLowerCase().startsWith(XML_TYPE) ? parseOcdisc(res.body, contentType(res)) : undefined
        if (doc === undefined) return { ok: false, detail: `200 but not ${XML_TYPE} (${contentType(res) || 'no content type'})` }
        return { ok: true, detail: `AccessLocation ${doc.accessLocation ?? '(none)'}, ${doc.element ?? '?'} links ${tokens(doc)}`, doc }
      },
    },
  ]
}

// Judges a 200 autodiscover answer; `found` receives what was parsed for the access-location rows.
function autodiscoverAnswer (check: string, name: string, res: ProbeResponse, what: string, judge: Representation['judge'], found: (doc: ParsedDiscovery) => void): ProbeResult {
  if (res.status !== 200) return fail(check, name, `${what}: ${answered(res)}`, statusCause(res, name))
  const verdict = judge(res)
  if (verdict.doc !== undefined) found(verdict.doc)
  const redirect = verdict.doc === undefined ? undefined : redirectOnly(verdict.doc)
  if (redirect !== undefined) return fail(check, name, `${what}: only a Redirect link, to ${redirect}, over HTTPS`, TLS_OFFLOAD_CAUSE)
  return verdict.ok
    ? pass(check, name, `${what}: ${verdict.detail}`)
    : fail(check, name, `${what}: ${verdict.detail}`, verdict.cause ?? 'something other than the Lync autodiscover service answered: the rule forwards this name to the wrong server, or the proxy rewrites the answer')
}

function accessLocationRow (name: string, source: string, doc: ParsedDiscovery | undefined, rows: ProbeResult[]): ProbeResult {
  const sourceRow = rows.find((r) => r.name === name && r.check === source)
  if (doc === undefined) return skip('access-location', name, `no autodiscover answer to read (see the ${source} row${sourceRow === undefined ? '' : `: ${sourceRow.result}`})`)
  if (doc.accessLocation === 'External') return pass('access-location', name, 'AccessLocation is External: the proxy reaches the pool\'s external site')
  if (doc.accessLocation === 'Internal') {
    return fail('access-location', name, 'AccessLocation is Internal',
      'the proxy sends 443 to the pool\'s internal site; bridge to 4443 so the pool can tell external traffic')
  }
  return warn('access-location', name, `the answer has no AccessLocation (${doc.accessLocation ?? 'absent'})`, 'an autodiscover answer from a Lync pool always names the access location: check what the rule forwards this name to')
}

async function userResource (ctx: ProbeContext): Promise<ProbeResult> {
  const name = ctx.names.webExt
  const blocked = ctx.tlsBlocked('user-resource', name)
  if (blocked !== undefined) return blocked
  const path = `${SERVICE}/root/oauth/user?originalDomain=${ctx.options.domain}`
  return ctx.judge('user-resource', name, { scheme: 'https', name, path, headers: { Accept: 'application/json' } }, (res) => {
    const challenge = headerLines(res, 'www-authenticate').find((l) => /^MsRtcOAuth\s/i.test(l))
    if (res.status === 401 && challenge !== undefined && /href=/i.test(challenge) && /grant_type=/i.test(challenge)) {
      return pass('user-resource', name, `401 with WWW-Authenticate: ${challenge}`)
    }
    if (res.status === 401) {
      const offered = headerLines(res, 'www-authenticate').map((l) => l.split(/\s/)[0]).join(', ') || 'no scheme'
      return fail('user-resource', name, `401 offering ${offered} but no MsRtcOAuth challenge`,
        'something in front of the pool answers the challenge (pre-authentication on the listener, or Basic/Windows authentication on the ARR site): set "No authentication" and let clients authenticate directly; Lync Mobile and UCWA only speak MsRtcOAuth')
    }
    const doc = res.status === 200 ? parseOcdisc(res.body, contentType(res)) : undefined
    const links = res.status === 200 ? parseHal(res.body) : undefined
    const redirect = (doc === undefined ? undefined : redirectOnly(doc)) ?? (links !== undefined && Object.keys(links).length === 1 ? links.redirect : undefined)
    if (redirect !== undefined) return fail('user-resource', name, `only a redirect link, to ${redirect}, over HTTPS and without credentials`, TLS_OFFLOAD_CAUSE)
    if (res.status === 200) {
      return fail('user-resource', name, 'the user resource answered 200 without credentials',
        'the proxy authenticates on the client\'s behalf or serves a cached answer: disable pre-authentication and caching on the rule')
    }
    return fail('user-resource', name, `${answered(res)} instead of a 401 MsRtcOAuth challenge`, statusCause(res, name))
  })
}

export async function autodiscoverChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const { lyncdiscover, webExt, webDirExt } = ctx.names
  const rows: ProbeResult[] = [await lyncdiscoverHttp(ctx)]
  const found = new Map<string, ParsedDiscovery>()

  for (const r of representations(ctx)) {
    const blocked = ctx.tlsBlocked(r.check, lyncdiscover)
    if (blocked !== undefined) { rows.push(blocked); continue }
    rows.push(await ctx.judge(r.check, lyncdiscover, { scheme: 'https', name: lyncdiscover, path: r.path, headers: r.accept === undefined ? {} : { Accept: r.accept } },
      (res) => autodiscoverAnswer(r.check, lyncdiscover, res, r.label, r.judge, (doc) => { if (r.check === 'lyncdiscover-json') found.set(lyncdiscover, doc) })))
  }

  const webNames = [webExt, webDirExt].filter((n): n is string => n !== undefined)
  for (const name of webNames) {
    const blocked = ctx.tlsBlocked('health-probe', name)
    if (blocked !== undefined) { rows.push(blocked); continue }
    rows.push(await ctx.judge('health-probe', name, { scheme: 'https', name, path: HEALTH_PATH }, (res) => {
      const judge: Representation['judge'] = (r) => {
        const doc = parseOcdisc(r.body, contentType(r))
        return { ok: true, detail: doc === undefined ? '200' : `200, AccessLocation ${doc.accessLocation ?? '(none)'}`, ...(doc === undefined ? {} : { doc }) }
      }
      return autodiscoverAnswer('health-probe', name, res, `GET ${HEALTH_PATH} without Accept`, judge, (doc) => found.set(name, doc))
    }))
  }

  rows.push(accessLocationRow(lyncdiscover, 'lyncdiscover-json', found.get(lyncdiscover), rows))
  for (const name of webNames) rows.push(accessLocationRow(name, 'health-probe', found.get(name), rows))
  rows.push(await userResource(ctx))
  return rows
}
