// Office Web Apps, which Lync uses for PowerPoint in meetings: the WOPI discovery document, and a
// presenter URL whose query is percent-encoded twice over. Proxies that normalise URLs (TMG's
// "Verify Normalization", IIS request filtering without allowDoubleEscaping) reject or rewrite it,
// and clients sit at "Waiting for the presentation to begin".
import { fail, pass, skip, warn, type ProbeContext } from './context.js'
import { answered, statusCause } from './diagnose.js'
import type { ProbeResult } from './types.js'

// The shape of a real Lync presenter URL: WopiSrc encoded once, the token carrying an encoded %.
export const PRESENTER_QUERY = 'a=0&e=true&WopiSrc=https%3A%2F%2Ffe1.contoso.net%2FDataCollabWeb%2Fwopi%2Ffiles%2F9-1-ABC&access_token=x%252Fy'

const NORMALIZATION_CAUSE = 'the proxy decodes or rewrites percent-encoding in the query: clear "Verify Normalization" in the TMG rule\'s HTTP filter (ARR: allowDoubleEscaping="true"; nginx: proxy_pass without a URI part)'

async function discovery (ctx: ProbeContext, name: string): Promise<ProbeResult> {
  return ctx.judge('owas-discovery', name, { scheme: 'https', name, path: '/hosting/discovery' }, (res) => {
    if (res.status !== 200) return fail('owas-discovery', name, `/hosting/discovery: ${answered(res)}`, statusCause(res, name))
    if (!/<wopi-discovery\b/i.test(res.body)) {
      return fail('owas-discovery', name, '/hosting/discovery: 200 but no WOPI discovery XML', 'the name is forwarded to something other than the Office Web Apps farm: point the rule at the farm on 443')
    }
    const external = res.body.toLowerCase().includes(`https://${name}/`)
    return external
      ? pass('owas-discovery', name, `/hosting/discovery: discovery XML with URLs on ${name}`)
      : warn('owas-discovery', name, `/hosting/discovery: discovery XML, but no URL on ${name}`,
        `external clients are handed internal URLs: set the farm's external URL (New-OfficeWebAppsFarm / Set-OfficeWebAppsFarm -ExternalURL https://${name})`)
  })
}

async function presenterQuery (ctx: ProbeContext, name: string): Promise<ProbeResult> {
  return ctx.judge('owas-query', name, { scheme: 'https', name, path: `/m/Presenter.aspx?${PRESENTER_QUERY}` }, (res) => {
    const echoed = res.headers['x-lab-raw-query']
    if (typeof echoed === 'string') {
      return echoed === PRESENTER_QUERY
        ? pass('owas-query', name, 'the double-encoded presenter query reached the server byte for byte')
        : fail('owas-query', name, `the server got the query as ${echoed}`, NORMALIZATION_CAUSE)
    }
    if (res.status === 500) return fail('owas-query', name, `/m/Presenter.aspx: ${answered(res)}`, /HTTP filter/i.test(res.body) ? statusCause(res, name) : NORMALIZATION_CAUSE)
    if (res.status === 404 && /404\.11|double escape/i.test(res.body)) return fail('owas-query', name, '/m/Presenter.aspx: 404.11 (double escape sequence)', NORMALIZATION_CAUSE)
    if (res.status === 400) return fail('owas-query', name, `/m/Presenter.aspx: ${answered(res)}`, NORMALIZATION_CAUSE)
    return pass('owas-query', name, `/m/Presenter.aspx with the double-encoded query: ${answered(res)}, not rejected`)
  })
}

export async function owasChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const name = ctx.names.owas
  if (name === undefined) return [skip('owas-discovery', '-', 'no Office Web Apps name (--owas none)')]
  const rows: ProbeResult[] = []
  for (const [check, run] of [['owas-discovery', discovery], ['owas-query', presenterQuery]] as const) {
    rows.push(ctx.tlsBlocked(check, name) ?? await run(ctx, name))
  }
  return rows
}
