// The UCWA sign-in as Lync 2013 Mobile and the Lync Web App run it, through the proxy: the user
// resource's MsRtcOAuth challenge, a password grant for a cwt= web ticket, the user resource again
// with the ticket (following a redirect to the user's home pool), creating an application, and one
// event-channel poll that makeMeAvailable answers. Each hop goes to the host its link names, reached
// on the target.
import { randomUUID } from 'node:crypto'
import { fail, pass, skip, type ProbeContext } from './context.js'
import { answered, describeError, errorCause, statusCause } from './diagnose.js'
import { parseHal } from './discovery.js'
import { headerLines, type ProbeRequest, type ProbeResponse } from './http.js'
import { publishedNames } from './options.js'
import type { ProbeResult } from './types.js'

const MAX_REDIRECTS = 3
// A pool holds an event channel at least 180 s when nothing happens (events_ref.md), so the probe
// makes something happen: makeMeAvailable raises me and communication events (EventChannelDetails.md,
// the sample response), which must reach the held GET at once. Past this budget the proxy held them.
const EVENTS_BUDGET_MS = 5_000
// How long the P-GET has to reach the pool before makeMeAvailable is sent; if it arrives later, the
// events wait for it on the pool and it is answered at once all the same.
const HOLD_HEAD_START_MS = 300
// events_ref.md, timeout: "The minimum possible value is 180 seconds".
const POOL_MIN_TIMEOUT_S = 180

// A step that did not go as a client needs; becomes the row.
class Stop extends Error {
  constructor (readonly verdict: 'FAIL' | 'SKIP', readonly detail: string, readonly lyncCause = '') { super(detail) }
}

class SignIn {
  readonly steps: string[] = []
  private token?: string

  constructor (private readonly ctx: ProbeContext) {}

  // Sends to the host a link names. A link to a name the proxy does not publish is how a pool
  // reached through its internal site (or configured with internal URLs only) shows up.
  // Links are absolute in Lync's answers; a relative one is taken against the external web FQDN.
  url (href: string): URL {
    try {
      return new URL(href, `https://${this.ctx.names.webExt}/`)
    } catch {
      throw new Stop('FAIL', `the link ${href} is not a URL`, 'something rewrote the answer')
    }
  }

  host (href: string): string {
    return this.url(href).hostname
  }

  async call (step: string, href: string, init: Omit<ProbeRequest, 'scheme' | 'name' | 'path'> = {}): Promise<ProbeResponse> {
    const url = this.url(href)
    const name = url.hostname.toLowerCase()
    const published = publishedNames(this.ctx.names).includes(name)
    if (!published && this.ctx.verdict('access-location', this.ctx.names.webExt) === 'FAIL') {
      throw new Stop('SKIP', `not finished: ${step} links to ${name}, an internal name (AccessLocation is Internal, see the access-location row)`)
    }
    if (published && this.ctx.verdict('tls', name) === 'FAIL') throw new Stop('SKIP', `not finished: ${step} needs ${name}, and TLS to it failed (see the tls row)`)
    if (url.protocol !== 'https:') throw new Stop('FAIL', `${step}: the link ${href} is not HTTPS`, 'Lync hands out HTTPS links only: something rewrote the answer')
    const headers: Record<string, string> = { ...init.headers }
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`
    try {
      return await this.ctx.send({ ...init, headers, scheme: 'https', name, path: url.pathname + url.search })
    } catch (err) {
      const cause = published
        ? errorCause(err, `${this.ctx.options.target}:${this.ctx.options.httpsPort}`)
        : `the pool's links name ${name}, which this proxy does not seem to publish: publish the pool's external web services FQDN, or fix it in Topology Builder`
      throw new Stop('FAIL', `${step} (${name}): ${describeError(err)}`, cause)
    }
  }

  expect (step: string, res: ProbeResponse, status: number, name: string): void {
    if (res.status !== status) throw new Stop('FAIL', `${step}: ${answered(res)}, expected ${status}`, statusCause(res, name))
  }

  async challenge (userUrl: string): Promise<string> {
    const res = await this.call('the user resource', userUrl, { headers: { Accept: 'application/json' } })
    const line = headerLines(res, 'www-authenticate').find((l) => /^MsRtcOAuth\s/i.test(l))
    const href = line === undefined ? undefined : /href="([^"]+)"/i.exec(line)?.[1]
    if (res.status !== 401 || href === undefined) {
      throw new Stop('FAIL', `the user resource ${userUrl}: ${answered(res)} without an MsRtcOAuth challenge`, statusCause(res, this.host(userUrl)))
    }
    return href
  }

  async signIn (tokenUrl: string, user: string, password: string): Promise<void> {
    this.token = undefined
    const body = new URLSearchParams({ grant_type: 'password', username: user, password }).toString()
    const res = await this.call('the token request', tokenUrl, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8', Accept: 'application/json' } })
    let token: unknown
    try { token = (JSON.parse(res.body) as { access_token?: unknown }).access_token } catch { token = undefined }
    if (res.status === 400 && /invalid_grant/.test(res.body)) {
      throw new Stop('FAIL', `the token request for ${user}: 400 invalid_grant (${String(res.headers['x-ms-diagnostics'] ?? 'no X-Ms-diagnostics')})`, 'the pool refused the user name or password: check --user/--password (this is not a proxy problem)')
    }
    if (res.status !== 200 || typeof token !== 'string' || !token.startsWith('cwt=')) {
      throw new Stop('FAIL', `the token request ${tokenUrl}: ${answered(res)} without a cwt= access token`, statusCause(res, this.host(tokenUrl)))
    }
    this.token = token
    this.steps.push('cwt token')
  }
}

// The opt-in long poll: one event-channel GET held for `seconds`, which a Lync pool answers 200 with
// an empty batch when the time is up (at least 180 s, events_ref.md, whatever `seconds` asks). A proxy with a read timeout below that (nginx's
// proxy_read_timeout is 60 s by default) cuts it first.
// The href of `rel` in the resource embedded as `name` in a HAL body.
function embeddedLink (body: string, name: string, rel: string): string | undefined {
  let value: unknown
  try { value = JSON.parse(body) } catch { return undefined }
  const embedded = (value as { _embedded?: Record<string, { _links?: Record<string, { href?: unknown }> }> } | null)?._embedded
  const href = embedded?.[name]?._links?.[rel]?.href
  return typeof href === 'string' ? href : undefined
}

async function longPoll (ctx: ProbeContext, flow: SignIn, next: string | undefined, seconds: number): Promise<ProbeResult> {
  const name = ctx.names.webExt
  if (next === undefined) return fail('long-poll', name, 'the first event batch has no next link to hold', 'something rewrote the UCWA answer')
  const url = flow.url(next)
  url.searchParams.set('timeout', String(seconds))
  const started = Date.now()
  try {
    // A pool holds it at least 180 s, whatever was asked; the probe waits that long before it blames anyone.
    const res = await flow.call('the long poll', url.href, { headers: { Accept: 'application/json' }, timeoutMs: (Math.max(seconds, POOL_MIN_TIMEOUT_S) + 30) * 1000 })
    const held = (Date.now() - started) / 1000
    if (res.status === 200 && held >= seconds - 2) return pass('long-poll', name, `the event channel was held ${held.toFixed(0)} s (timeout=${seconds}) and answered 200`)
    if (res.status === 200) return pass('long-poll', name, `answered 200 after ${held.toFixed(0)} s with events (timeout=${seconds}), before the time was up`)
    return fail('long-poll', name, `after ${held.toFixed(0)} s of timeout=${seconds}: ${answered(res)}`, longPollCause(held))
  } catch (err) {
    const held = (Date.now() - started) / 1000
    return fail('long-poll', name, `after ${held.toFixed(0)} s of timeout=${seconds}: ${err instanceof Stop ? err.detail : describeError(err)}`, longPollCause(held))
  }
}

function longPollCause (held: number): string {
  return `the proxy gave up on the held GET after about ${held.toFixed(0)} s: its response (read) timeout for /ucwa is shorter than the event channel's, which Lync's clients ask to be held 900 s (UCWA allows up to 1800 s); raise it to 960 s for /ucwa and /mcx (ARR's response timeout, TMG's idle timeout, nginx's proxy_read_timeout)`
}

export async function ucwaSignIn (ctx: ProbeContext): Promise<ProbeResult[]> {
  const name = ctx.names.webExt
  const credentials = ctx.options.credentials
  const longPollRow = (why: string): ProbeResult[] => ctx.options.longPollSeconds === undefined ? [] : [skip('long-poll', name, why)]
  if (credentials === undefined) return [skip('ucwa-signin', name, 'not tried: no --user/--password'), ...longPollRow('not tried: no --user/--password')]
  const blocked = ctx.tlsBlocked('ucwa-signin', name)
  if (blocked !== undefined) return [blocked, ...longPollRow('not tried: see the ucwa-signin row')]
  if (ctx.verdict('user-resource', name) !== 'PASS') {
    return [skip('ucwa-signin', name, 'not tried: no MsRtcOAuth challenge (see the user-resource row)'), ...longPollRow('not tried: see the ucwa-signin row')]
  }

  const flow = new SignIn(ctx)
  let application: string | undefined
  try {
    let userUrl = `https://${name}/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=${ctx.options.domain}`
    let applications: string | undefined
    for (let hop = 0; applications === undefined; hop++) {
      if (hop > MAX_REDIRECTS) throw new Stop('FAIL', `more than ${MAX_REDIRECTS} autodiscover redirects`, 'the pools send the client round in circles: check the user\'s home pool and its external web services FQDN')
      // Web tickets are pool-scoped: every pool the client is sent to gets its own sign-in.
      await flow.signIn(await flow.challenge(userUrl), credentials.user, credentials.password)
      const res = await flow.call('the user resource with the token', userUrl, { headers: { Accept: 'application/json' } })
      if (res.status === 500 && /28032/.test(String(res.headers['x-ms-diagnostics'] ?? ''))) {
        throw new Stop('FAIL', 'the user resource refused the web ticket (500, X-Ms-diagnostics 28032)', 'the ticket went to a different pool than the one that issued it: the rule sends the token request and the user resource to different pools')
      }
      flow.expect('the user resource with the token', res, 200, flow.host(userUrl))
      const links = parseHal(res.body) ?? {}
      if (links.applications !== undefined) { applications = links.applications; break }
      if (links.redirect === undefined) throw new Stop('FAIL', 'the user resource has neither an applications nor a redirect link', 'something other than the Lync autodiscover service answered')
      flow.steps.push(`redirect to ${flow.host(links.redirect)}`)
      const root = await flow.call('the redirect target', links.redirect, { headers: { Accept: 'application/json' } })
      const user = parseHal(root.body)?.user
      if (root.status !== 200 || user === undefined) throw new Stop('FAIL', `the redirect target ${links.redirect}: ${answered(root)} without a user link`, statusCause(root, flow.host(links.redirect)))
      userUrl = flow.url(user).href
    }
    flow.steps.push('applications link')

    const created = await flow.call('creating the application', applications, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ UserAgent: 'lyncproxy-probe', EndpointId: randomUUID(), Culture: 'en-US' }),
    })
    flow.expect('creating the application', created, 201, flow.host(applications))
    const appLinks = parseHal(created.body) ?? {}
    if (appLinks.self !== undefined) application = new URL(appLinks.self, flow.url(applications)).href
    if (appLinks.events === undefined) throw new Stop('FAIL', 'the new application has no events link', 'something rewrote the UCWA answer')
    flow.steps.push('POST applications 201')

    const available = embeddedLink(created.body, 'me', 'makeMeAvailable')
    if (available === undefined) throw new Stop('FAIL', 'the new application\'s me has no makeMeAvailable link', 'something rewrote the UCWA answer')
    const events = new URL(appLinks.events, flow.url(applications))
    const polling = flow.call('the event channel', events.href, { headers: { Accept: 'application/json' }, timeoutMs: ctx.options.timeoutMs + EVENTS_BUDGET_MS + HOLD_HEAD_START_MS })
    // A failure of the poll is read below, after makeMeAvailable, not as an unhandled rejection.
    polling.catch(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, HOLD_HEAD_START_MS))
    const made = await flow.call('makeMeAvailable', flow.url(available).href, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ supportedModalities: ['Messaging'] }),
    })
    flow.expect('makeMeAvailable', made, 204, flow.host(available))
    const madeAt = Date.now()
    flow.steps.push('makeMeAvailable 204')
    const polled = await polling
    flow.expect('the event channel', polled, 200, events.hostname)
    // From makeMeAvailable's answer on: the events were raised by then, so any wait past it is the proxy's.
    const late = Date.now() - madeAt
    if (late > EVENTS_BUDGET_MS) {
      throw new Stop('FAIL', `the event channel brought the events of makeMeAvailable ${(late / 1000).toFixed(1)} s after it was answered`, 'the proxy buffers or delays long-poll answers: pass /ucwa responses through unbuffered')
    }
    flow.steps.push(`events 200, ${(late / 1000).toFixed(1)} s after it`)
    const signedIn = pass('ucwa-signin', name, `signed in as ${credentials.user}: ${flow.steps.join(' → ')}`)
    const seconds = ctx.options.longPollSeconds
    if (seconds === undefined) return [signedIn]
    return [signedIn, await longPoll(ctx, flow, parseHal(polled.body)?.next, seconds)]
  } catch (err) {
    const row = !(err instanceof Stop)
      ? fail('ucwa-signin', name, `the sign-in broke off: ${describeError(err)}`, 'an answer the probe could not follow; see the detail')
      : err.verdict === 'SKIP' ? skip('ucwa-signin', name, err.detail) : fail('ucwa-signin', name, err.detail, err.lyncCause)
    return [row, ...longPollRow('not tried: see the ucwa-signin row')]
  } finally {
    // Leave no application behind on a real pool; best effort.
    if (application !== undefined) await flow.call('deleting the application', application, { method: 'DELETE' }).catch(() => undefined)
  }
}
