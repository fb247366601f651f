// The UCWA sign-in as Lync 2013 Mobile does it, against a Front End (and a Director) stand-in over
// real TLS sockets: autodiscover → 401 challenge → OAuth token → user → application → event channel.
import t from 'tap'
import { checkServerIdentity } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { throwawayCert } from './helpers/throwaway-cert.js'
import { startStandIn, type LabTopology, type RunningStandIn, type StandInSpec } from '../src/lab/standin/index.js'

const topology: LabTopology = {
  sipDomain: 'contoso.com',
  frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
  director: { internalFqdn: 'dirpool.contoso.net', externalFqdn: 'webdirext.contoso.com' },
  users: [
    { sipUri: 'user1@contoso.com', password: 'Pass@word1', displayName: 'Lab User One' },
    { sipUri: 'user2@contoso.com', password: 'Pass@word2' },
  ],
  // So that an empty answer comes after a second or two; the test of the default floor uses its own.
  ucwa: { minEventTimeout: 1 },
}
const SVC = '/Autodiscover/AutodiscoverService.svc'
const APPS = '/ucwa/oauth/v1/applications'

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => Record<string, unknown> }
interface CallOptions { method?: 'GET' | 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string; signal?: AbortSignal }

let tls: { cert: string; key: string }
let agent: Agent

// Every stand-in here shares the throwaway certificate; the Host header says which name is meant.
async function call (server: RunningStandIn, pathAndQuery: string, o: CallOptions = {}): Promise<Reply> {
  const port = server.sites.find((s) => s.kind === 'external' && s.protocol === 'https')?.port
  const res = await request(`https://127.0.0.1:${port}${pathAndQuery}`, {
    method: o.method ?? 'GET',
    headers: { host: server.member === 'dir01' ? 'webdirext.contoso.com' : 'webext.contoso.com', ...o.headers },
    body: o.body,
    signal: o.signal,
    dispatcher: agent,
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }
}

// Links come back with public names; the path is what the test follows on the stand-in.
function pathOf (href: string): string {
  const u = new URL(href, 'https://webext.contoso.com')
  return u.pathname + u.search
}

function spec (member: string, role: 'frontend' | 'director'): StandInSpec {
  return {
    member,
    role,
    serverFqdn: `${member}.contoso.net`,
    address: '127.0.0.1',
    sites: [{ kind: 'internal', protocol: 'https', port: 0 }, { kind: 'external', protocol: 'https', port: 0 }],
    tls,
    topology,
  }
}

async function token (server: RunningStandIn, username: string, password: string): Promise<string> {
  const r = await call(server, '/WebTicket/oauthtoken', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  })
  if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`)
  return (r.json() as { access_token: string }).access_token
}

async function newApplication (server: RunningStandIn, bearer: string, endpointId: string): Promise<string> {
  const r = await call(server, APPS, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ UserAgent: 'standin-test', EndpointId: endpointId, Culture: 'en-US' }),
  })
  if (r.status !== 201) throw new Error(`application: ${r.status} ${r.text}`)
  return (r.json() as { id: string }).id
}

let fe: RunningStandIn
let dir: RunningStandIn

t.before(async () => {
  tls = await throwawayCert('fe01.contoso.net')
  agent = new Agent({
    connect: { ca: tls.cert, servername: 'fe01.contoso.net', checkServerIdentity: (_h, cert) => checkServerIdentity('fe01.contoso.net', cert) },
  })
  fe = await startStandIn(spec('fe01', 'frontend'))
  dir = await startStandIn(spec('dir01', 'director'))
})
t.teardown(async () => {
  await fe.close()
  await dir.close()
  await agent.close()
})

t.test('full UCWA sign-in: autodiscover, 401, token, user, application', async (t) => {
  const root = await call(fe, '/', { headers: { host: 'lyncdiscover.contoso.com', accept: 'application/json' } })
  const userHref = (root.json() as { _links: { user: { href: string } } })._links.user.href
  t.equal(userHref, `https://webext.contoso.com${SVC}/root/oauth/user?originalDomain=contoso.com`)

  const challenge = await call(fe, pathOf(userHref), { headers: { accept: 'application/json' } })
  t.equal(challenge.status, 401)
  const lines = challenge.headers['www-authenticate']
  t.ok(Array.isArray(lines) && lines.length === 2, 'two WWW-Authenticate lines')
  // CreateAnApplication.md, step 4: the 401's fields, the Bearer challenge before MsRtcOAuth's.
  t.match(lines, [/^Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso\.com", client_id="00000004-0000-0ff1-ce00-000000000000"$/, /^MsRtcOAuth href="[^"]+",grant_type="urn:microsoft\.rtc:windows,urn:microsoft\.rtc:anonmeeting,password"$/])
  t.match(challenge.headers, { 'content-type': /^text\/html/, server: 'Microsoft-IIS/8.5', 'x-ms-server-fqdn': 'fe01.contoso.net', 'x-powered-by': 'ASP.NET', 'x-content-type-options': 'nosniff', vary: 'Accept-Encoding' })
  const msrtc = Array.isArray(lines) ? lines.find((l) => l.startsWith('MsRtcOAuth ')) : undefined
  const tokenUrl = /href="([^"]+)"/.exec(msrtc ?? '')?.[1]
  t.equal(tokenUrl, 'https://webext.contoso.com/WebTicket/oauthtoken')

  // As the UCWA sample sends it, with the quoted charset that strict parsers choke on.
  const issued = await call(fe, pathOf(tokenUrl ?? ''), {
    method: 'POST',
    headers: { 'content-type': "application/x-www-form-urlencoded;charset='utf-8'" },
    body: 'grant_type=password&username=user1%40contoso.com&password=Pass%40word1',
  })
  t.equal(issued.status, 200)
  t.match(issued.headers['content-type'], /^application\/json/)
  t.equal(issued.headers['cache-control'], 'no-store')
  const grant = issued.json() as Record<string, unknown>
  t.same(Object.keys(grant), ['access_token', 'expires_in', 'ms_rtc_identityscope', 'token_type'])
  t.match(grant, { access_token: /^cwt=\S+$/, expires_in: 28800, ms_rtc_identityscope: 'local', token_type: 'Bearer' })
  const bearer = grant.access_token as string

  const user = await call(fe, pathOf(userHref), { headers: { accept: 'application/json', authorization: `Bearer ${bearer}` } })
  t.equal(user.status, 200)
  t.same(user.json(), {
    _links: {
      self: { href: `https://webext.contoso.com${SVC}/root/oauth/user` },
      applications: { href: `https://webext.contoso.com${APPS}` },
      xframe: { href: 'https://webext.contoso.com/Autodiscover/XFrame/XFrame.html' },
    },
  })

  const created = await call(fe, APPS, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ UserAgent: 'UCWA Samples', EndpointId: 'a917c6f4-976c-4cf3-847d-cdfffa28ccdf', Culture: 'en-US' }),
  })
  t.equal(created.status, 201)
  t.equal(created.headers['content-type'], 'application/json; charset=utf-8')
  const app = created.json() as { id: string; culture: string; userAgent: string; rel: string; _links: Record<string, { href: string }>; _embedded: { me: { name: string; uri: string } } }
  const base = `${APPS}/${app.id}`
  t.match(created.headers['set-cookie'], new RegExp(`^cwt_ucwa=[A-Za-z0-9_-]+; path=${base}/photos; secure; HttpOnly$`))
  t.match(app, { culture: 'en-US', userAgent: 'UCWA Samples', rel: 'application' })
  t.same(Object.keys(app._links).sort(), ['batch', 'events', 'policies', 'self'])
  t.equal(app._links.events?.href, `${base}/events?ack=1`)
  t.equal(app._links.self?.href, base)
  t.match(app._embedded.me, { name: 'Lab User One', uri: 'sip:user1@contoso.com' })

  // The reference's own names are camelCase (applications_ref.md); the walk-through above used
  // PascalCase. Either way the same endpoint gets the same application.
  const post = (body: unknown): Promise<Reply> => call(fe, APPS, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const again = await post({ culture: 'en-us', endpointId: 'a917c6f4-976c-4cf3-847d-cdfffa28ccdf', instanceId: 'samplevalue', userAgent: 'ContosoApp/1.0' })
  t.equal(again.status, 201, 'camelCase, as the reference names the properties')
  t.equal((again.json() as { id: string }).id, app.id, 'same endpoint, same application')
  const noCulture = await post({ UserAgent: 'UCWA Samples', EndpointId: 'a917c6f4-976c-4cf3-847d-cdfffa28ccdf' })
  t.equal(noCulture.status, 400, 'culture is required')
  t.same(noCulture.json(), { code: 'BadRequest', subcode: 'ParameterValidationFailure', message: 'Required and missing: culture.' })
  t.equal((await post({ userAgent: 'x', endpointId: 'e', culture: 'x'.repeat(101) })).status, 400, 'culture: at most 100 characters')
  t.equal((await post({ userAgent: 'x', endpointId: 'e', culture: '' })).status, 400, 'culture: not empty')
  const notObject = await post(['userAgent'])
  t.equal(notObject.status, 400, 'a body that is not a JSON object')

  // A link the lab does not serve yet answers as UCWA does, in JSON, once the ticket is good.
  const missing = await call(fe, `${base}/me/callForwardingSettings`, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' } })
  t.equal(missing.status, 404)
  t.equal(missing.headers['content-type'], 'application/json; charset=utf-8')
  t.match(missing.json(), { code: 'NotFound' })
  const missingNoTicket = await call(fe, `${base}/me/callForwardingSettings`)
  t.equal(missingNoTicket.status, 401, 'without a ticket: the 401, before any path is looked at')
  t.equal((await call(fe, '/nosuch/page.aspx')).headers['content-type']?.toString().startsWith('text/html'), true, 'outside UCWA, IIS\'s page')

  const noTicket = await call(fe, APPS, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  t.equal(noTicket.status, 401)
})

t.test('token endpoint errors', async (t) => {
  const post = (body: string): Promise<Reply> => call(fe, '/WebTicket/oauthtoken', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  const bad = await post('grant_type=password&username=user1@contoso.com&password=wrong')
  t.equal(bad.status, 400)
  t.same(bad.json(), { error: 'invalid_grant' })
  t.match(bad.headers['x-ms-diagnostics'], /^28000;source="fe01\.contoso\.net";reason="[^"]+"$/)
  const unknown = await post('grant_type=password&username=nobody@contoso.com&password=x')
  t.same(unknown.json(), { error: 'invalid_grant' })
  const windows = await post('grant_type=urn:microsoft.rtc:windows')
  t.equal(windows.status, 400)
  t.same(windows.json(), { error: 'unsupported_grant_type' })
  t.equal(windows.headers['x-ms-diagnostics'], '28029;source="fe01.contoso.net";reason="Authentication type not allowed."')
  const get = await call(fe, '/WebTicket/oauthtoken')
  t.equal(get.status, 405)
})

t.test('event channel: woken by triggerEvent, timeout, PGetReplaced, unknown application', async (t) => {
  const bearer = await token(fe, 'user1@contoso.com', 'Pass@word1')
  const auth = { authorization: `Bearer ${bearer}` }
  const id = await newApplication(fe, bearer, 'events-endpoint')
  const events = `${APPS}/${id}/events`

  t.equal(fe.triggerEvent('user2@contoso.com', { rel: 'nothing' }), 0, 'another user has no channels')

  // Woken: the P-GET is held, then an event arrives long before its timeout.
  let started = Date.now()
  const held = call(fe, `${events}?ack=1&timeout=10`, { headers: auth })
  await sleep(300)
  const event = { rel: 'communication', href: `${APPS}/${id}/communication`, events: [{ link: { rel: 'conversation' }, type: 'added' }] }
  t.equal(fe.triggerEvent('sip:User1@contoso.com', event), 1, 'one held channel woken')
  const woken = await held
  t.ok(Date.now() - started < 5000, 'answered by the event, not the timeout')
  t.equal(woken.status, 200)
  t.match(woken.headers['content-type'], /^application\/json/)
  t.same(woken.json(), { _links: { self: { href: `${events}?ack=1` }, next: { href: `${events}?ack=2` } }, sender: [event] })

  // Timeout: nothing happens for `timeout` seconds.
  started = Date.now()
  const quiet = await call(fe, `${events}?ack=2&timeout=1`, { headers: auth })
  const waited = Date.now() - started
  t.ok(waited >= 900 && waited < 5000, `held for the timeout (${waited} ms)`)
  t.equal(quiet.status, 200)
  t.same(quiet.json(), { _links: { self: { href: `${events}?ack=2` }, next: { href: `${events}?ack=3` } }, sender: [] })

  // A second P-GET replaces the first.
  const first = call(fe, `${events}?ack=3&timeout=10`, { headers: auth })
  await sleep(300)
  const second = call(fe, `${events}?ack=3&timeout=10`, { headers: auth })
  const replaced = await first
  t.equal(replaced.status, 409)
  t.match(replaced.json(), { code: 'Conflict', subcode: 'PGetReplaced' })
  await sleep(100)
  t.equal(fe.triggerEvent('user1@contoso.com', { rel: 'me' }), 1, 'only the newer P-GET is still held')
  t.same((await second).json().sender, [{ rel: 'me' }])

  const unknown = await call(fe, `${APPS}/0000000000000000/events?ack=1&timeout=1`, { headers: auth })
  t.equal(unknown.status, 404)
  t.match(unknown.json(), { subcode: 'ApplicationNotFound' })
  const otherUser = await token(fe, 'user2@contoso.com', 'Pass@word2')
  const foreign = await call(fe, `${events}?ack=1&timeout=1`, { headers: { authorization: `Bearer ${otherUser}` } })
  t.equal(foreign.status, 404, "another user's application is not found")
})

t.test('event channel: an answer is kept until acknowledged; an out-of-order ack gets resync', async (t) => {
  const bearer = await token(fe, 'user1@contoso.com', 'Pass@word1')
  const auth = { authorization: `Bearer ${bearer}` }
  const id = await newApplication(fe, bearer, 'ack-endpoint')
  const events = `${APPS}/${id}/events`
  const links = (ack: number): object => ({ self: { href: `${events}?ack=${ack}` }, next: { href: `${events}?ack=${ack + 1}` } })

  const first = call(fe, `${events}?ack=1&timeout=30`, { headers: auth })
  await sleep(300)
  t.equal(fe.triggerEvent('user1@contoso.com', { rel: 'one' }), 1)
  t.same((await first).json(), { _links: links(1), sender: [{ rel: 'one' }] })

  const appLink = async (): Promise<string> => ((await call(fe, `${APPS}/${id}`, { headers: auth })).json()._links as Record<string, { href: string }>).events!.href
  t.equal(await appLink(), `${events}?ack=1`, 'the application links to the unacknowledged answer')

  // The client lost that answer and asks again with the same ack: the same events, at once.
  const again = await call(fe, `${events}?ack=1&timeout=30`, { headers: auth })
  t.same(again.json(), { _links: links(1), sender: [{ rel: 'one' }] }, 'redelivered, not lost')

  // Out of order while answer 1 is unacknowledged: a lone resync link to it.
  for (const ack of ['7', '0', 'x']) {
    const resync = await call(fe, `${events}?ack=${ack}`, { headers: auth })
    t.equal(resync.status, 200)
    t.same(resync.json(), { _links: { resync: { href: `${events}?ack=1` } } }, `ack=${ack}`)
  }

  // Following next acknowledges answer 1: the new P-GET waits for new events.
  const second = call(fe, `${events}?ack=2&timeout=30`, { headers: auth })
  await sleep(300)
  t.equal(fe.triggerEvent('user1@contoso.com', { rel: 'two' }), 1, 'answer 1 is not sent again')
  t.same((await second).json(), { _links: links(2), sender: [{ rel: 'two' }] })
})

t.test('event channel: timeout floor and ceiling from events_ref.md, remembered between P-GETs', async (t) => {
  const { ucwa: _floor, ...reference } = topology
  const own = await startStandIn({ ...spec('fe03', 'frontend'), topology: reference })
  t.teardown(() => own.close())
  const bearer = await token(own, 'user1@contoso.com', 'Pass@word1')
  const auth = { authorization: `Bearer ${bearer}` }
  const id = await newApplication(own, bearer, 'floor-endpoint')
  const events = `${APPS}/${id}/events`

  const asks: Array<[string, number]> = [['', 180], ['&timeout=1', 180], ['&timeout=600', 600], ['&timeout=86400', 1800], ['', 1800]]
  for (const [i, [query, held]] of asks.entries()) {
    const poll = call(own, `${events}?ack=${i + 1}${query}`, { headers: auth })
    await sleep(300)
    t.same(own.heldEventTimeouts(), [held], `ack=${i + 1}${query}: held for ${held} s`)
    own.triggerEvent('user1@contoso.com', { rel: `e${i}` })
    t.same((await poll).json().sender, [{ rel: `e${i}` }])
  }

  // timeout=1 under the reference floor: still held when a second has passed.
  const short = call(own, `${events}?ack=6&timeout=1`, { headers: auth })
  const answered = await Promise.race([short.then(() => 'answered'), sleep(2500).then(() => 'held')])
  t.equal(answered, 'held', 'a P-GET that asks for 1 s is not answered after 2.5 s')
  own.triggerEvent('user1@contoso.com', { rel: 'release' })
  t.same((await short).json().sender, [{ rel: 'release' }])
})

t.test('event channel: the lab floor lowered, an empty answer after the remembered timeout', async (t) => {
  const bearer = await token(fe, 'user2@contoso.com', 'Pass@word2')
  const auth = { authorization: `Bearer ${bearer}` }
  const id = await newApplication(fe, bearer, 'remember-endpoint')
  const events = `${APPS}/${id}/events`
  t.same((await call(fe, `${events}?ack=1&timeout=2`, { headers: auth })).json().sender, [])
  const started = Date.now()
  const quiet = await call(fe, `${events}?ack=2`, { headers: auth })
  const waited = Date.now() - started
  t.same(quiet.json().sender, [], 'empty when the time is up')
  const app = (await call(fe, `${APPS}/${id}`, { headers: auth })).json() as { _links: Record<string, { href: string }> }
  t.equal(app._links.events!.href, `${events}?ack=3`, 'after two empty answers the application links to the third')
  t.ok(waited >= 1900 && waited < 60_000, `held for the remembered 2 s, not the default (${waited} ms)`)
})

t.test('event channel: client going away frees the channel; POST /lab/events', async (t) => {
  const bearer = await token(fe, 'user2@contoso.com', 'Pass@word2')
  const auth = { authorization: `Bearer ${bearer}` }
  const id = await newApplication(fe, bearer, 'abort-endpoint')
  const events = `${APPS}/${id}/events`

  const ac = new AbortController()
  const abandoned = call(fe, `${events}?ack=1&timeout=30`, { headers: auth, signal: ac.signal })
  await sleep(300)
  ac.abort()
  await t.rejects(abandoned)
  await sleep(200)
  t.equal(fe.triggerEvent('user2@contoso.com', { rel: 'queued' }), 0, 'no held request left behind')
  const next = await call(fe, `${events}?ack=1&timeout=5`, { headers: auth })
  t.same(next.json().sender, [{ rel: 'queued' }], 'the event that found no P-GET is delivered by the next one')

  const held = call(fe, `${events}?ack=2&timeout=10`, { headers: auth })
  await sleep(300)
  const fired = await call(fe, '/lab/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sipUri: 'user2@contoso.com', event: { rel: 'from-http' } }),
  })
  t.equal(fired.status, 200)
  t.same(fired.json(), { woken: 1 })
  t.same((await held).json().sender, [{ rel: 'from-http' }])
  const bad = await call(fe, '/lab/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sipUri":1}' })
  t.equal(bad.status, 400)
})

t.test('web tickets are pool-scoped: another pool\'s ticket gives 500 / 28032', async (t) => {
  const fromDirector = await token(dir, 'user1@contoso.com', 'Pass@word1')
  const onFe = await call(fe, `${SVC}/root/oauth/user`, { headers: { accept: 'application/json', authorization: `Bearer ${fromDirector}` } })
  t.equal(onFe.status, 500)
  t.equal(onFe.headers['x-ms-diagnostics'], '28032;source="fe01.contoso.net";reason="The web ticket is invalid."')
  const ucwa = await call(fe, APPS, { method: 'POST', headers: { authorization: `Bearer ${fromDirector}` }, body: '{}' })
  t.equal(ucwa.status, 500, 'UCWA refuses it too')

  const fromFe = await token(fe, 'user1@contoso.com', 'Pass@word1')
  const onDir = await call(dir, `${SVC}/root/oauth/user`, { headers: { accept: 'application/json', authorization: `Bearer ${fromFe}` } })
  t.equal(onDir.status, 500)
  t.match(onDir.headers['x-ms-diagnostics'], /^28032;source="dir01\.contoso\.net";/)

  const [payload, mac] = fromFe.slice(4).split('.')
  const forged = `cwt=${Buffer.from(Buffer.from(payload ?? '', 'base64url').toString().replace('pool01', 'dirpool')).toString('base64url')}.${mac}`
  const tampered = await call(dir, `${SVC}/root/oauth/user`, { headers: { authorization: `Bearer ${forged}` } })
  t.equal(tampered.status, 500, 'rewriting the pool breaks the signature')
})

t.test('Director: challenge names its own token service, then redirects users to the Front End', async (t) => {
  const root = await call(dir, '/', { headers: { host: 'lyncdiscover.contoso.com', accept: 'application/json' } })
  t.equal(root.headers['x-lab-member'], 'dir01')
  t.match(root.json(), { _links: { user: { href: `https://webdirext.contoso.com${SVC}/root/oauth/user?originalDomain=contoso.com` } } },
    'autodiscover on the Director links to its own user resource, where the client authenticates first')

  const challenge = await call(dir, `${SVC}/root/oauth/user`, { headers: { accept: 'application/json' } })
  t.equal(challenge.status, 401)
  t.match(challenge.headers['www-authenticate'], [/^Bearer /, /^MsRtcOAuth href="https:\/\/webdirext\.contoso\.com\/WebTicket\/oauthtoken",/])

  const bearer = await token(dir, 'user1@contoso.com', 'Pass@word1')
  const user = await call(dir, `${SVC}/root/oauth/user`, { headers: { accept: 'application/json', authorization: `Bearer ${bearer}` } })
  t.equal(user.status, 200)
  t.same(user.json(), { _links: { redirect: { href: `https://webext.contoso.com${SVC}/root` } } })
  const ocdisc = await call(dir, `${SVC}/root/user`, { headers: { authorization: `Bearer ${bearer}` } })
  t.same(ocdisc.json(), { AccessLocation: 'External', User: { Links: [{ href: `https://webext.contoso.com${SVC}/root`, token: 'Redirect' }] } })
})

t.test('close() answers held P-GETs instead of leaving them hanging', async (t) => {
  const own = await startStandIn(spec('fe02', 'frontend'))
  t.teardown(() => own.close())
  const bearer = await token(own, 'user1@contoso.com', 'Pass@word1')
  const id = await newApplication(own, bearer, 'close-endpoint')
  const started = Date.now()
  const held = call(own, `${APPS}/${id}/events?ack=1&timeout=60`, { headers: { authorization: `Bearer ${bearer}` } })
    .then((r) => r.status, () => 'reset')
  await sleep(300)
  await own.close()
  const outcome = await held
  t.equal(outcome, 503, 'answered (503) before the sockets were closed')
  t.ok(Date.now() - started < 5000, 'promptly')
})
