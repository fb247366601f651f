// What the proxy must not do or should do on the side: forward names that are internal only (the
// Control Panel's admin simple URL), and send plain-HTTP visitors of the other names to HTTPS.
import { fail, pass, skip, warn, type ProbeContext } from './context.js'
import { answered, describeError, statusCause } from './diagnose.js'
import { headerLines, ProbeTimeoutError, type ProbeResponse } from './http.js'
import type { ProbeResult } from './types.js'

function fromLync (res: ProbeResponse): boolean {
  const windowsAuth = headerLines(res, 'www-authenticate').some((l) => /^(NTLM|Negotiate)\b/i.test(l))
  return res.headers['x-ms-server-fqdn'] !== undefined || windowsAuth
}

function judgeUnpublished (check: string, name: string, res: ProbeResponse): ProbeResult {
  const published = `${name} is published: the Control Panel simple URL is internal only; remove it from the rule's public names`
  if (fromLync(res) && ((res.status >= 200 && res.status < 400) || res.status === 401)) return fail(check, name, `${name} answered ${answered(res)}`, published)
  if ([400, 403, 404, 421].includes(res.status)) return pass(check, name, `${res.status}: not forwarded`)
  if (res.status >= 300 && res.status < 400) return pass(check, name, `${res.status} to ${String(res.headers.location ?? '?')}: not forwarded`)
  if (res.status >= 500) return warn(check, name, `${name} answered ${answered(res)}`, `the proxy seems to try to forward ${name}: remove it from the rule's public names`)
  return warn(check, name, `${name} answered ${answered(res)} from something that is not Lync (Server: ${String(res.headers.server ?? '?')})`,
    'not the Control Panel, but a catch-all site answers names that are not published: deny unknown names on the listener')
}

async function unpublished (ctx: ProbeContext, scheme: 'http' | 'https'): Promise<ProbeResult> {
  const name = ctx.names.admin
  const check = `unpublished-${scheme}`
  try {
    return judgeUnpublished(check, name, await ctx.send({ scheme, name, path: '/', anyCertificate: true }))
  } catch (err) {
    const text = describeError(err)
    if (err instanceof ProbeTimeoutError || /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(text)) return skip(check, name, `not judged: ${text}`)
    // Refusing the TLS session or the request outright is a fine way not to publish a name.
    return pass(check, name, `refused: ${text}`)
  }
}

interface RedirectTarget { name: string, path: string }

function judgeRedirect (name: string, path: string, res: ProbeResponse): ProbeResult {
  const check = 'http-redirect'
  if ([301, 302, 307, 308].includes(res.status)) {
    const location = String(res.headers.location ?? '')
    let url: URL | undefined
    try { url = new URL(location, `http://${name}${path}`) } catch { url = undefined }
    if (url !== undefined && url.protocol === 'https:' && url.hostname.toLowerCase() === name) return pass(check, name, `${res.status} to ${location}`)
    return fail(check, name, `${res.status} to ${location || '(no Location)'}`, `the redirect must go to https://${name} with the same path, or users following it land elsewhere (a redirect naming the pool means the proxy does not forward the original Host)`)
  }
  const optional = `Microsoft calls the HTTP to HTTPS redirect optional; without it http:// links to ${name} do not lead to the HTTPS site: add a redirect rule for port 80`
  if (res.status === 200) return warn(check, name, `answered ${answered(res)} over plain HTTP instead of redirecting`, optional)
  if (res.status === 404 && res.headers['x-ms-server-fqdn'] === undefined) return warn(check, name, 'not published on port 80 (404 from the proxy)', optional)
  return fail(check, name, `answered ${answered(res)} over plain HTTP`, statusCause(res, name))
}

async function httpRedirect (ctx: ProbeContext, target: RedirectTarget): Promise<ProbeResult> {
  try {
    return judgeRedirect(target.name, target.path, await ctx.send({ scheme: 'http', name: target.name, path: target.path }))
  } catch (err) {
    return warn('http-redirect', target.name, `nothing answered on :${ctx.options.httpPort} (${describeError(err)})`,
      `Microsoft calls the HTTP to HTTPS redirect optional: publish port 80 with a redirect if http:// links to ${target.name} should work`)
  }
}

export async function exposureChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const { webExt, meet, dialin } = ctx.names
  const rows = [await unpublished(ctx, 'https'), await unpublished(ctx, 'http')]
  for (const target of [{ name: webExt, path: '/' }, { name: meet, path: '/user1/ABC123' }, { name: dialin, path: '/' }]) {
    rows.push(await httpRedirect(ctx, target))
  }
  return rows
}
