// The meeting and dial-in simple URLs. Lync serves them from the pool's web FQDN and tells them
// apart only by the Host header, so a proxy that rewrites Host to the pool's name breaks them while
// everything else works. The lab's stand-ins report the Host they got (X-Lab-Host); against real
// servers the page itself has to tell.
import { fail, pass, type ProbeContext } from './context.js'
import { answered, statusCause } from './diagnose.js'
import { hostOnly, type ProbeResponse } from './http.js'
import type { ProbeResult } from './types.js'

const HOST_CAUSE = 'the Host header was not forwarded: Lync routes meet and dialin by Host; set "Forward the original host header" (TMG) / preserve Host (ARR preserveHostHeader, nginx proxy_set_header Host $host)'

interface SimpleUrl {
  check: string
  name: string
  path: string
  page: string
  looksRight: (body: string) => boolean
}

function title (body: string): string | undefined {
  return /<title[^>]*>([^<]*)<\/title>/i.exec(body)?.[1]?.trim()
}

function judge (url: SimpleUrl, res: ProbeResponse): ProbeResult {
  const { check, name, page } = url
  const seen = res.headers['x-lab-host']
  if (typeof seen === 'string' && hostOnly(seen) !== name) {
    return fail(check, name, `${name} reached the server as Host ${seen || '(empty)'} (${answered(res)})`, HOST_CAUSE)
  }
  const right = res.status === 200 && url.looksRight(res.body)
  if (right) {
    const access = /name="lab-access-location" content="(\w+)"/.exec(res.body)?.[1]
    const how = typeof seen === 'string' ? `, Host ${name} reached the server unchanged` : ''
    return pass(check, name, `200 ${page} ("${title(res.body) ?? ''}")${how}${access === undefined ? '' : `, reached as ${access}`}`)
  }
  if (res.status === 200) return fail(check, name, `200 but not the ${page} (title "${title(res.body) ?? ''}")`, HOST_CAUSE)
  // A Lync server that does not recognise the name answers 404: the Host it got was not this one.
  if (res.status === 404 && res.headers['x-ms-server-fqdn'] !== undefined && seen === undefined) {
    return fail(check, name, `${answered(res)}: the server did not take the request as ${name}`, HOST_CAUSE)
  }
  return fail(check, name, `${answered(res)} instead of the ${page}`, statusCause(res, name))
}

export async function simpleUrlChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const urls: SimpleUrl[] = [
    { check: 'meet', name: ctx.names.meet, path: '/user1/ABC123', page: 'join page', looksRight: (b) => /join|meeting|lync web app|skype/i.test(title(b) ?? '') },
    { check: 'dialin', name: ctx.names.dialin, path: '/', page: 'Dial-In page', looksRight: (b) => /dial-?in/i.test(title(b) ?? '') },
  ]
  const rows: ProbeResult[] = []
  for (const url of urls) {
    rows.push(ctx.tlsBlocked(url.check, url.name) ??
      await ctx.judge(url.check, url.name, { scheme: 'https', name: url.name, path: url.path }, (res) => judge(url, res)))
  }
  return rows
}
