// The flow view's grouping (src/admin/static/flow-groups.js) and HAR reading (har-replay.js), from
// node: the page's own modules, which touch no DOM. Lab-shaped sequences are grouped and named as a
// teacher tells them, the HLB's hops fold into the exchange they serve, and any sequence of records
// at all is grouped without throwing, each record in exactly one flow, in the order given.
import fc from 'fast-check'
import t from 'tap'
import { maskHeaderValue, SECRET_HEADERS, type FlowRecord } from '../src/admin/flow-record.js'

// The page's modules are plain JavaScript, which the node side's tsc does not read (no allowJs):
// what this test uses of them is restated here.
interface Step { index: number, record: FlowRecord, chain: FlowRecord[], name: string, category: string }
interface Flow { key: string, client: string, kind: string, name: string, steps: Step[], records: FlowRecord[], start: number, end: number }
interface Lane { key: string, name: string, sub: string, vip: boolean }
const { groupFlows, lanesOf, IDLE_MS } = await import(new URL('../src/admin/static/flow-groups.js', import.meta.url).href) as {
  groupFlows: (records: readonly FlowRecord[], options?: { idleMs?: number }) => Flow[]
  lanesOf: (flow: Flow) => Lane[]
  IDLE_MS: number
}
const { recordsOfHar, SECRET_HEADERS: PAGE_SECRET_HEADERS, maskHeaderValue: pageMask } = await import(new URL('../src/admin/static/har-replay.js', import.meta.url).href) as {
  recordsOfHar: (text: string) => { records: FlowRecord[], skipped: number, creator: string }
  SECRET_HEADERS: ReadonlySet<string>
  maskHeaderValue: (name: string, value: string) => string
}
const { MAX_LIVE, pushBounded, waitingText } = await import(new URL('../src/admin/static/live-window.js', import.meta.url).href) as {
  MAX_LIVE: number
  pushBounded: <T>(list: T[], item: T, max: number) => T[]
  waitingText: (waiting: number, dropped: number) => string
}
interface Mark { change: string, why: string, from?: string }
const { marksOf } = await import(new URL('../src/admin/static/headers-panel.js', import.meta.url).href) as {
  marksOf: (changes: FlowRecord['requestChanges']) => { before: Map<string, Mark>, after: Map<string, Mark> }
}

// A record as an export older than relayedBy gives it: without the field.
const withoutRelayedBy = (r: FlowRecord): FlowRecord => ({ ...r, relayedBy: undefined }) as unknown as FlowRecord

let seq = 0
let clock = 1_700_000_000_000
function rec (o: Partial<FlowRecord> & { host: string, path: string }): FlowRecord {
  seq++
  clock += 20
  return {
    id: `r${seq}`, time: clock, listener: 'external-https', client: '203.0.113.5', method: 'GET', publicName: '', rule: 'webext', pool: 'fe',
    upstream: '127.0.1.11:4443', status: 200, upstreamStatus: 200, bytesIn: 0, bytesOut: 0, durationMs: 5, error: '', aborted: false,
    member: 'fe01', listenerPort: 443, reason: '', relayedBy: '', stop: 'pool', requestHeaders: [], forwardedHeaders: [],
    upstreamResponseHeaders: [], responseHeaders: [], requestChanges: [], responseChanges: [], ...o,
  }
}

// A request to the Director pool, whose VIP is lyncproxy too: the VIP's hop finishes (and is
// published) first, then the client's exchange that waited for it.
function viaVip (o: Partial<FlowRecord> & { host: string, path: string }, member = 'dir01'): FlowRecord[] {
  const outer = rec({ rule: 'director', pool: 'dir', member: 'vip', upstream: '127.0.1.2:4443', durationMs: 12, ...o })
  const hop = rec({ ...o, listener: 'dir-vip-ext-https', listenerPort: 4443, relayedBy: o.listener ?? 'external-https', rule: 'dir-hlb-external', pool: 'dir-servers', member, upstream: `127.0.1.${member === 'dir01' ? 21 : 22}:4443`, time: outer.time + 1, durationMs: 8 })
  return [hop, outer]
}

const refusal = (host: string, o: Partial<FlowRecord> = {}): FlowRecord => rec({ host, path: '/', listener: 'external-http', listenerPort: 80, rule: '', pool: '', member: '', upstream: '', status: 404, upstreamStatus: 0, error: 'not_published', reason: 'this name is not published by any rule on this listener', stop: 'listener', ...o })

function mobileSignIn (client = '203.0.113.5'): FlowRecord[] {
  return [
    ...viaVip({ client, host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com', listener: 'external-http', listenerPort: 80, upstream: '127.0.1.2:8080' }),
    ...viaVip({ client, host: 'webdirext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root?sipuri=user1@contoso.com' }, 'dir02'),
    ...viaVip({ client, host: 'webdirext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root/oauth/user', status: 401, upstreamStatus: 401 }),
    ...viaVip({ client, method: 'POST', host: 'webdirext.contoso.com', path: '/WebTicket/oauthtoken' }, 'dir02'),
    ...viaVip({ client, host: 'webdirext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root/oauth/user' }),
    rec({ client, host: 'webext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root' }),
    rec({ client, host: 'webext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root/oauth/user', status: 401, upstreamStatus: 401, member: 'fe02', upstream: '127.0.1.12:4443' }),
    rec({ client, method: 'POST', host: 'webext.contoso.com', path: '/WebTicket/oauthtoken' }),
    rec({ client, host: 'webext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root/oauth/user', member: 'fe02', upstream: '127.0.1.12:4443' }),
    rec({ client, method: 'POST', host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications', status: 201, upstreamStatus: 201 }),
    rec({ client, method: 'POST', host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications/123/me/makeMeAvailable', status: 204, upstreamStatus: 204 }),
    rec({ client, host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications/123/events?ack=1&timeout=180' }),
  ]
}

function ntlmDownload (client = '203.0.113.5'): FlowRecord[] {
  const challenge = { status: 401, upstreamStatus: 401, responseHeaders: [['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM']] as Array<[string, string]> }
  return [
    rec({ client, host: 'webext.contoso.com', path: '/abs/handler/', ...challenge }),
    rec({ client, host: 'webext.contoso.com', path: '/abs/handler/', ...challenge, requestHeaders: [['Authorization', 'NTLM [40 characters hidden]']] }),
    rec({ client, host: 'webext.contoso.com', path: '/abs/handler/', requestHeaders: [['Authorization', 'NTLM [300 characters hidden]']] }),
  ]
}

const names = (flows: Flow[]): string[] => flows.map((f) => f.name)
const stepNames = (f: Flow | undefined): string[] => (f?.steps ?? []).map((s) => s.name)

t.test('a lab sign-in, an NTLM download, a meeting join and a refusal: four flows, named', async (t) => {
  const signIn = mobileSignIn()
  const ntlm = ntlmDownload()
  const meeting = [
    ...viaVip({ host: 'meet.contoso.com', path: '/user1/ABCD1234' }),
    ...viaVip({ host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com' }),
    ...viaVip({ host: 'webdirext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root/oauth/user', status: 401, upstreamStatus: 401 }),
    rec({ method: 'POST', host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications/9/communication/joinOnlineMeeting', status: 201, upstreamStatus: 201 }),
  ]
  const refused = [refusal('intranet.contoso.com')]
  const flows = groupFlows([...signIn, ...ntlm, ...meeting, ...refused])
  t.same(names(flows), ['Mobile sign-in', 'Address book download (NTLM)', 'Meeting join', 'Refused: unpublished name'])
  const [first, second, third, fourth] = flows
  t.same(stepNames(first), [
    'lyncdiscover', 'autodiscover root', 'user resource', 'OAuth token', 'user resource',
    'autodiscover root', 'user resource', 'OAuth token', 'user resource', 'applications', 'makeMeAvailable', 'event channel',
  ], 'the sign-in\'s steps, the roots the Director and the user resource sent the client to included')
  t.same(first?.records, signIn, 'every record of it, the VIP\'s hops included, in the order given')
  t.same(first?.steps.slice(0, 5).map((s) => s.chain.map((r) => r.member)), [['vip', 'dir01'], ['vip', 'dir02'], ['vip', 'dir01'], ['vip', 'dir02'], ['vip', 'dir01']], 'each hop inside the exchange it served')
  t.same(lanesOf(first!).map((l) => [l.name, l.sub, l.vip]), [['dir01', 'pool dir-servers', true], ['dir02', 'pool dir-servers', true], ['fe01', 'pool fe', false], ['fe02', 'pool fe', false]], 'a lifeline per server that answered; the VIP is lyncproxy\'s own')
  t.same(stepNames(second), ['address book', 'address book (type 1)', 'address book (type 3)'], 'the NTLM messages told apart by their length')
  t.same(stepNames(third), ['meeting page', 'lyncdiscover', 'user resource', 'meeting join (UCWA)'], 'a join includes the guest\'s own discovery')
  t.same(fourth?.steps.map((s) => [s.name, s.category, s.chain.length]), [['refused: unpublished name', 'refused', 1]])
  t.same(lanesOf(fourth!), [], 'no server answered it')
  t.equal(first?.key, signIn[0]?.id, 'a flow is known by its earliest record')
})

t.test('what begins a flow and what continues one', async (t) => {
  t.test('the same root asked again is a new sign-in; another root while discovering is not', async (t) => {
    const again = rec({ host: 'lyncdiscover.contoso.com', path: '/?sipuri=user1@contoso.com', member: 'vip', pool: 'dir' })
    const flows = groupFlows([...mobileSignIn().slice(0, 4), again])
    t.same(names(flows), ['Mobile sign-in', 'Mobile sign-in'])
    t.same(stepNames(flows[0]), ['lyncdiscover', 'autodiscover root'])
  })
  t.test('a root after the session got going is a new sign-in', async (t) => {
    const flows = groupFlows([...mobileSignIn(), rec({ host: 'webext.contoso.com', path: '/Autodiscover/AutodiscoverService.svc/root' })])
    t.same(names(flows), ['Mobile sign-in', 'Sign-in (autodiscover)'])
  })
  t.test('an address book download after a sign-in is its own flow; group expansion continues it', async (t) => {
    const flows = groupFlows([...mobileSignIn(), ...ntlmDownload(), rec({ method: 'POST', host: 'webext.contoso.com', path: '/GroupExpansion/service.svc' })])
    t.same(names(flows), ['Mobile sign-in', 'Address book download (NTLM)'])
    t.same(stepNames(flows[1]), ['address book', 'address book (type 1)', 'address book (type 3)', 'group expansion'])
  })
  t.test('without a client\'s answer, the offered schemes name the download', async (t) => {
    t.same(names(groupFlows(ntlmDownload().slice(0, 1))), ['Address book download (Negotiate or NTLM offered)'])
  })
  t.test('a refusal of a name the flow used stays in it; of another name, it is a flow of its own', async (t) => {
    const flows = groupFlows([...mobileSignIn(), refusal('webext.contoso.com'), refusal('intranet.contoso.com')])
    t.same(names(flows), ['Mobile sign-in', 'Refused: unpublished name'])
    t.equal(flows[0]?.steps.at(-1)?.name, 'refused: unpublished name')
  })
  t.test('other refusals are steps of the open flow', async (t) => {
    const denied = rec({ host: 'webext.contoso.com', path: '/admin', rule: 'deny-admin', pool: '', member: '', upstream: '', status: 403, upstreamStatus: 0, error: 'denied', stop: 'rule' })
    const flows = groupFlows([...ntlmDownload(), denied])
    t.same(stepNames(flows[0]), ['address book', 'address book (type 1)', 'address book (type 3)', 'refused: deny rule'])
  })
  t.test('a minute\'s silence ends a flow', async (t) => {
    const records = ntlmDownload()
    const late = rec({ host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications/1/events', time: records.at(-1)!.time + 5 + IDLE_MS + 1 })
    const soon = rec({ host: 'webext.contoso.com', path: '/ucwa/oauth/v1/applications/1/events', time: records.at(-1)!.time + 5 + IDLE_MS - 1 })
    t.same(groupFlows([...records, late]).map((f) => f.steps.length), [3, 1], 'idle a minute and a millisecond: a new flow')
    t.same(groupFlows([...records, soon]).map((f) => f.steps.length), [4], 'just under a minute: the same flow')
    t.same(names(groupFlows([...records, late])), ['Address book download (NTLM)', 'UCWA session'])
  })
  t.test('each client has its own flows, interleaved or not', async (t) => {
    const a = mobileSignIn('203.0.113.5')
    const b = ntlmDownload('198.51.100.7')
    const mixed: FlowRecord[] = []
    for (let i = 0; i < Math.max(a.length, b.length); i++) mixed.push(...[a[i], b[i]].filter((r): r is FlowRecord => r !== undefined))
    const flows = groupFlows(mixed)
    t.same(flows.map((f) => [f.name, f.client, f.records.length]).sort(), [['Address book download (NTLM)', '198.51.100.7', b.length], ['Mobile sign-in', '203.0.113.5', a.length]])
  })
  t.test('a hop that arrives before its exchange and one without relayedBy (an older HAR) both fold', async (t) => {
    const [hop, outer] = viaVip({ host: 'meet.contoso.com', path: '/user1/X' })
    const older = withoutRelayedBy(hop!)
    for (const records of [[hop!, outer!], [outer!, hop!], [older, outer!], [withoutRelayedBy(outer!), older]]) {
      const flows = groupFlows(records)
      t.same(flows.map((f) => f.steps.map((s) => s.chain.map((r) => r.id))), [[[outer!.id, hop!.id]]])
    }
    const apart = groupFlows([{ ...hop!, relayedBy: 'another-listener' }, outer!])
    t.equal(apart.flatMap((f) => f.steps).length, 2, 'relayed by another listener: not its hop')
    t.equal(groupFlows([{ ...hop!, relayedBy: '' }, outer!]).flatMap((f) => f.steps).length, 2, 'relayedBy \'\': a client\'s request, whatever its port')
    t.equal(groupFlows([{ ...older, time: outer!.time - 2 }, outer!]).flatMap((f) => f.steps).length, 2, 'begun before the exchange: not its hop')
    t.equal(groupFlows([{ ...older, durationMs: 20 }, outer!]).flatMap((f) => f.steps).length, 2, 'ended after the exchange: not its hop')
    // The exchange runs from T to T + 12.
    t.equal(groupFlows([{ ...older, time: outer!.time - 1, durationMs: 13 }, outer!]).flatMap((f) => f.steps).length, 1, 'begun a millisecond early (the clock\'s rounding): still its hop')
    t.equal(groupFlows([{ ...older, time: outer!.time + 1, durationMs: 12 }, outer!]).flatMap((f) => f.steps).length, 1, 'ended a millisecond late: still its hop')
    t.equal(groupFlows([{ ...older, time: outer!.time + 1, durationMs: 13 }, outer!]).flatMap((f) => f.steps).length, 2, 'ended two milliseconds late: not its hop')
  })
})

// Office Web Apps is published on 443 and listens on 443: a listener's port equal to the upstream's
// is no sign of a hop. The page asks for the same discovery document again and again.
const owas = (o: Partial<FlowRecord> = {}): FlowRecord => rec({
  host: 'owas.contoso.com', path: '/hosting/discovery', listener: 'external-https', listenerPort: 443, rule: 'owas', pool: 'owas', member: 'owas01', upstream: '127.0.1.31:443', relayedBy: '', ...o,
})

t.test('identical requests on a port the upstream shares are steps, not hops', async (t) => {
  t.test('three identical Office Web Apps GETs from the feed: three steps', async (t) => {
    const records = [owas(), owas(), owas()]
    const flows = groupFlows(records)
    t.same(flows.map((f) => f.steps.map((s) => s.chain.map((r) => r.id))), [records.map((r) => [r.id])], 'one flow of three steps, none folded into another')
    t.same(flows[0]?.records, records)
  })
  t.test('a long one with another inside its time: both steps', async (t) => {
    const first = owas({ durationMs: 500 })
    const inside = owas({ time: first.time + 10, durationMs: 20 })
    t.same(groupFlows([first, inside]).flatMap((f) => f.steps).map((s) => s.chain.length), [1, 1])
  })
  const entry = (at: number, time: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    startedDateTime: new Date(Date.parse('2026-01-02T03:04:05.000Z') + at).toISOString(), time,
    request: { method: 'GET', url: 'https://owas.contoso.com/hosting/discovery', headers: [] },
    response: { status: 200, statusText: 'OK', headers: [] },
    serverIPAddress: '192.0.2.31',
    ...extra,
  })
  t.test('the same from a browser\'s HAR file (no _ fields), one of them inside another\'s time', async (t) => {
    const { records } = recordsOfHar(JSON.stringify({ log: { entries: [entry(0, 200), entry(20, 30), entry(400, 30)] } }))
    t.same(records.map((r) => [r.listenerPort, r.upstream, r.relayedBy]), Array(3).fill([443, '192.0.2.31:443', '']), 'a browser saw only its own requests: relayedBy \'\'')
    t.same(groupFlows(records).map((f) => f.steps.length), [3], 'three steps')
  })
  t.test('the same from an export older than relayedBy: paired by the port, kept apart by the times', async (t) => {
    const ours = { _listener: 'external-https', _listenerPort: 443, _rule: 'owas', _pool: 'owas', _member: 'owas01', _upstream: '127.0.1.31:443', _upstreamStatus: 200, _stop: 'pool' }
    const { records } = recordsOfHar(JSON.stringify({ log: { entries: [entry(0, 30, ours), entry(20, 30, ours), entry(45, 30, ours)] } }))
    t.same(records.map((r) => r.relayedBy), [undefined, undefined, undefined], 'no _relayedBy: left undefined')
    t.same(groupFlows(records).map((f) => f.steps.length), [3], 'three steps: none begun and ended within another')
  })
  t.test('the same from an export older than relayedBy, one inside another\'s time: the same listener is no hop', async (t) => {
    const ours = { _listener: 'external-https', _listenerPort: 443, _rule: 'owas', _pool: 'owas', _member: 'owas01', _upstream: '127.0.1.31:443', _upstreamStatus: 200, _stop: 'pool' }
    const { records } = recordsOfHar(JSON.stringify({ log: { entries: [entry(0, 200, ours), entry(20, 30, ours), entry(400, 30, ours)] } }))
    t.same(groupFlows(records).map((f) => f.steps.map((s) => s.chain.length)), [[1, 1, 1]], 'three steps of one exchange each')
  })
})

t.test('the proxy\'s own answers that are not refusals are not named so', async (t) => {
  const own = { rule: '', pool: '', member: '', upstream: '', upstreamStatus: 0, stop: 'listener' as const }
  const options = rec({ ...own, method: 'OPTIONS', host: 'webext.contoso.com', path: '*', status: 200 })
  const optionsFailed = { ...options, id: 'options-failed', status: 500, error: 'internal_error' }
  const optionsReplayed = { ...options, id: 'options-replayed', path: '/*' }
  const left = rec({ ...own, host: 'webext.contoso.com', path: '/abs/handler/', status: 499, error: 'client_aborted' })
  const answered = rec({ ...own, host: 'webext.contoso.com', path: '/x', status: 204 })
  const steps = (r: FlowRecord): Array<[string, string]> => groupFlows([r]).flatMap((f) => f.steps.map((s): [string, string] => [s.name, s.category]))
  t.same(steps(options), [['OPTIONS * (answered by the proxy)', 'answered']])
  t.same(steps(optionsReplayed), [['OPTIONS * (answered by the proxy)', 'answered']], 'read back from a HAR file, whose URL makes the target /*')
  t.same(steps(optionsFailed), [['refused: internal_error', 'refused']], 'an OPTIONS * the proxy failed is a refusal, as the server\'s refusalOf counts it')
  t.same(steps(left), [['client left before the answer', 'answered']])
  t.same(steps(answered), [['answered by the proxy', 'answered']])
  t.same(names(groupFlows([left])), ['Client left before the answer'])
  t.same(steps(rec({ ...own, host: 'webext.contoso.com', path: '/x', status: 413, error: 'body_too_large', stop: 'rule', rule: 'webext' })), [['refused: body_too_large', 'refused']], 'a refusal is still one')
  t.same(steps(rec({ host: 'webext.contoso.com', path: '/x', status: 499, error: 'client_aborted' })), [['GET /x', 'other']], 'a forwarded request the client left is named by its path')
})

// Any records at all: the shapes a live feed, a reconnect, a hand-edited HAR file or another tool's
// export can produce, times out of order included.
const header = fc.tuple(fc.constantFrom('Host', 'Authorization', 'WWW-Authenticate', 'Location', 'X-Custom'), fc.constantFrom('', 'NTLM abc', 'Negotiate', 'NTLM, Negotiate', 'https://x/', 'Bearer [3 characters hidden]'))
const anyRecord = fc.record({
  client: fc.constantFrom('a', 'b', 'c', ''),
  method: fc.constantFrom('GET', 'POST'),
  host: fc.constantFrom('lyncdiscover.contoso.com', 'lyncdiscoverinternal.contoso.com', 'webext.contoso.com', 'meet.contoso.com', 'dialin.contoso.com', 'intranet.contoso.com', '', 'WEBEXT.contoso.com:443'),
  path: fc.constantFrom('/', '/?sipuri=u@c', '/Autodiscover/AutodiscoverService.svc/root', '/Autodiscover/AutodiscoverService.svc/root/oauth/user', '/WebTicket/oauthtoken', '/abs/handler/', '/GroupExpansion/service.svc',
    '/meet/', '/dialin/', '/ucwa/oauth/v1/applications', '/ucwa/oauth/v1/applications/1/events', '/xframe', '/x', '', '*', '/meet/a.js'),
  status: fc.constantFrom(0, 200, 201, 301, 401, 403, 404, 421, 502, 999),
  upstreamStatus: fc.constantFrom(0, 200, 401),
  member: fc.constantFrom('', 'fe01', 'dir01', 'vip'),
  pool: fc.constantFrom('', 'fe', 'dir'),
  upstream: fc.constantFrom('', '127.0.1.2:4443', '127.0.1.11:4443', '127.0.1.31:443', '192.0.2.80:80', 'x', '[::1]:80'),
  listener: fc.constantFrom('external-http', 'external-https', 'dir-vip-ext-https'),
  listenerPort: fc.constantFrom(0, 80, 443, 4443),
  // undefined: an export older than the field, paired by the port.
  relayedBy: fc.constantFrom(undefined, '', 'external-https', 'other'),
  stop: fc.constantFrom(undefined, 'listener', 'rule', 'pool'),
  // The same request again this many times, each `again` ms after the one before: the
  // Office Web Apps page asking for the same document, a client retrying.
  repeat: fc.integer({ min: 0, max: 3 }),
  again: fc.integer({ min: 0, max: 1500 }),
  error: fc.constantFrom('', 'not_published', 'path_not_published', 'denied', 'misdirected', 'upstream_refused'),
  gap: fc.integer({ min: -5000, max: 2 * 60_000 }),
  durationMs: fc.integer({ min: 0, max: 90_000 }),
  requestHeaders: fc.array(header, { maxLength: 3 }),
  responseHeaders: fc.array(header, { maxLength: 3 }),
})

t.test('any sequence of records: no throw, each record in exactly one flow, in the order given', async (t) => {
  fc.assert(fc.property(fc.array(anyRecord, { maxLength: 40 }), (drafts) => {
    let time = 1_700_000_000_000
    const records: FlowRecord[] = []
    for (const { gap, repeat, again, relayedBy, stop, ...d } of drafts) {
      time += gap
      for (let n = 0; n <= repeat; n++) {
        const r = rec({ ...d, id: `p${records.length}`, time: time + n * again })
        records.push({ ...r, relayedBy: relayedBy as string, stop: stop ?? (undefined as unknown as FlowRecord['stop']) })
      }
    }
    const flows = groupFlows(records)
    const where = new Map(records.map((r, i) => [r, i]))
    // Where each record landed: which flow, and whether as a step or as a hop of one of its steps.
    const landed = new Map<number, Flow[]>()
    for (const flow of flows) {
      if (flow.steps.length === 0 || flow.name === '') return false
      let last = -1
      for (const r of flow.records) {
        const i = where.get(r)
        if (i === undefined || i <= last) return false
        last = i
      }
      for (const s of flow.steps) {
        for (const r of s.chain) {
          const i = where.get(r)
          if (i === undefined || !flow.records.includes(r)) return false
          landed.set(i, [...(landed.get(i) ?? []), flow])
        }
      }
      if (flow.steps.flatMap((s) => s.chain).length !== flow.records.length) return false
      if (!flow.steps.every((s, i) => s.index === i && s.chain[0] === s.record && s.name !== '')) return false
      const lanes = lanesOf(flow)
      if (new Set(lanes.map((l) => l.key)).size !== lanes.length) return false
    }
    return records.every((_, i) => landed.get(i)?.length === 1)
  }), { numRuns: 400 })
  t.pass('held for 400 sequences')
})

t.test('a HAR file back into records', async (t) => {
  const ours = {
    startedDateTime: '2026-01-02T03:04:05.678Z', time: 12.5,
    request: { method: 'GET', url: 'https://webext.contoso.com/abs/handler/?x=1', headers: [{ name: 'Host', value: 'webext.contoso.com' }, { name: 'Authorization', value: 'NTLM [40 characters hidden]' }], bodySize: -1 },
    response: { status: 401, headers: [{ name: 'WWW-Authenticate', value: 'NTLM TlRMTVNTUAACAAAA' }], content: { size: 0, mimeType: '' } },
    serverIPAddress: '127.0.1.11',
    _id: 'abc-1', _client: '10.0.0.5', _listener: 'external-https', _listenerPort: 443, _rule: 'webext', _pool: 'fe', _member: 'fe01', _upstream: '127.0.1.11:4443',
    _upstreamStatus: 401, _error: '', _aborted: false, _reason: '', _stop: 'pool', _relayedBy: '',
    _forwardedHeaders: [{ name: 'Host', value: 'webext.contoso.com' }, { name: 'X-Forwarded-For', value: '10.0.0.5' }],
    _upstreamResponseHeaders: [{ name: 'WWW-Authenticate', value: 'NTLM TlRMTVNTUAACAAAA' }, { name: 'Connection', value: 'keep-alive' }],
    _requestChanges: [{ name: 'X-Forwarded-For', change: 'added', value: '10.0.0.5', why: 'set by the proxy' }, { name: 'Evil', change: 'exploded', value: '', why: '' }],
    _responseChanges: [{ name: 'Connection', change: 'removed', value: 'keep-alive', why: 'hop-by-hop' }],
  }
  const browser = {
    startedDateTime: '2026-01-02T03:04:06.000Z', time: 3,
    request: { method: 'GET', url: 'https://lyncdiscover.contoso.com/?sipuri=u@contoso.com', headers: [] },
    response: { status: 200, headers: [{ name: 'Content-Type', value: 'application/json' }], content: { size: 120 } },
    serverIPAddress: '192.0.2.80',
  }
  const noServer = { ...browser, serverIPAddress: undefined, request: { ...browser.request, url: 'http://meet.contoso.com:8080/user1/X' } }
  const { records, skipped, creator } = recordsOfHar(JSON.stringify({ log: { creator: { name: 'lyncproxy', version: '0.1.0' }, entries: [ours, browser, noServer, { request: {} }, 'nonsense', { ...browser, startedDateTime: 'yesterday' }] } }))
  t.equal(creator, 'lyncproxy 0.1.0')
  t.equal(skipped, 3, 'entries that are not exchanges are skipped and counted')
  t.match(records[0], {
    id: 'abc-1', client: '10.0.0.5', time: Date.parse(ours.startedDateTime), host: 'webext.contoso.com', path: '/abs/handler/?x=1', status: 401, member: 'fe01', pool: 'fe',
    upstream: '127.0.1.11:4443', listenerPort: 443, stop: 'pool',
    requestHeaders: [['Host', 'webext.contoso.com'], ['Authorization', 'NTLM [40 characters hidden]']],
    upstreamResponseHeaders: [['WWW-Authenticate', 'NTLM TlRMTVNTUAACAAAA'], ['Connection', 'keep-alive']],
    responseHeaders: [['WWW-Authenticate', 'NTLM TlRMTVNTUAACAAAA']],
  })
  t.same(records[0]?.requestChanges, [{ name: 'X-Forwarded-For', change: 'added', value: '10.0.0.5', why: 'set by the proxy' }], 'an unknown kind of change is dropped')
  t.match(records[1], { member: '192.0.2.80', upstream: '192.0.2.80:443', pool: '', listenerPort: 443, stop: 'pool', upstreamStatus: 200, upstreamResponseHeaders: [['Content-Type', 'application/json']] }, 'another tool\'s entry: the server HAR names')
  t.match(records[2], { member: 'meet.contoso.com', upstream: 'meet.contoso.com:8080', listenerPort: 8080, host: 'meet.contoso.com:8080' }, 'or else the URL\'s host')
  t.same(names(groupFlows(records)), ['Address book download (NTLM)', 'Mobile sign-in', 'Meeting join'], 'and they group like the feed\'s')
  const twice = recordsOfHar(JSON.stringify({ log: { entries: [ours, { ...ours, _client: '10.0.0.6' }, ours] } })).records
  t.same(twice.map((r) => r.id), ['abc-1', 'abc-1#2', 'abc-1#3'], 'an _id repeated by hand: each record still its own id')
  t.equal(new Set(groupFlows(twice).map((f) => f.key)).size, groupFlows(twice).length, 'and each flow its own key')
  // An export older than _stop: the stop the server's stopOf gives.
  const denied = { ...ours, response: { status: 403, headers: [] }, _member: '', _upstream: '', _error: 'denied', _stop: undefined }
  const unpublished = { ...denied, response: { status: 404, headers: [] }, _rule: '', _error: 'not_published' }
  t.same(recordsOfHar(JSON.stringify({ log: { entries: [denied, unpublished, { ...ours, _stop: undefined }] } })).records.map((r) => r.stop), ['rule', 'listener', 'pool'])
  t.throws(() => recordsOfHar('{"log":{}}'), /no log\.entries/)
  t.throws(() => recordsOfHar('<html>'), /not a HAR file/)
})

// Another tool's HAR file (a browser's devtools) carries credentials in clear; the page masks them
// as the server masks its feed and its export, by the same list and the same rule.
const SECRETS: Array<[string, string]> = [
  ['Authorization', 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=='],
  ['authorization', 'Bearer'],
  ['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
  ['Cookie', 'a=abc; MS-WSMAN=0123456789ab'],
  ['Cookie', ' flag;x=1=2; '],
  ['Set-Cookie', 'MS-WSMAN=0123456789ab; Path=/; Secure; HttpOnly'],
  ['Set-Cookie', 'lonely'],
  ['X-MS-WebTicket', 'opaque-ticket'],
  ['Host', 'webext.contoso.com'],
  ['WWW-Authenticate', 'NTLM TlRMTVNTUAACAAAA'],
]

t.test('a HAR file\'s credentials masked as the server masks them', async (t) => {
  t.same([...PAGE_SECRET_HEADERS].sort(), [...SECRET_HEADERS].sort(), 'the page\'s list of secret fields is the server\'s')
  for (const [name, value] of SECRETS) t.equal(pageMask(name, value), maskHeaderValue(name, value), `${name}: ${value}`)
  t.equal(pageMask('Cookie', 'a=abc; MS-WSMAN=0123456789ab'), 'a=[3 characters hidden]; MS-WSMAN=[12 characters hidden]', 'a cookie\'s name kept')
  t.equal(pageMask('Set-Cookie', 'MS-WSMAN=0123456789ab; Path=/'), 'MS-WSMAN=[12 characters hidden]; Path=/', 'a Set-Cookie\'s attributes kept')
  for (const [name, value] of SECRETS) {
    const once = pageMask(name, value)
    t.equal(pageMask(name, once), once, `masked once only: ${name}: ${once}`)
  }
  t.equal(pageMask('Authorization', 'NTLM [40 characters hidden], Negotiate [8 characters hidden]'), 'NTLM [40 characters hidden], Negotiate [8 characters hidden]', 'a change of a repeated field, masked and joined, kept')
  // Values that begin as a masked one and go on: the rest is a secret like any other.
  const smuggled: Array<[string, string, string]> = [
    ['Cookie', '[3 characters hidden]; session=s3cr3t', 's3cr3t'],
    ['Authorization', 'Bearer [1 characters hidden]tail', 'tail'],
    ['Authorization', 'NTLM [40 characters hidden], Negotiate TlRMTVNTUAAB', 'TlRMTVNTUAAB'],
    ['X-MS-WebTicket', '[3 characters hidden] ticket', 'ticket'],
    ['X-MS-WebTicket', 'ticket [3 characters hidden]', 'ticket'],
    ['Set-Cookie', 'MS-WSMAN=[3 characters hidden]x; Path=/', '[3 characters hidden]x'],
  ]
  for (const [name, value, secret] of smuggled) t.notOk(pageMask(name, value).includes(secret), `${name}: ${value} → ${pageMask(name, value)}`)

  const browser = {
    startedDateTime: '2026-01-02T03:04:06.000Z', time: 3,
    request: { method: 'GET', url: 'https://webext.contoso.com/ucwa/oauth/v1/applications', headers: [{ name: 'Authorization', value: 'Bearer cwt=AAEBHAEFAAAAAAAFFQAAAA' }, { name: 'Cookie', value: 'a=abc; MS-WSMAN=0123456789ab' }, { name: 'X-MS-WebTicket', value: 'opaque-ticket' }] },
    response: { status: 200, headers: [{ name: 'Set-Cookie', value: 'MS-WSMAN=0123456789ab; Path=/' }, { name: 'Content-Type', value: 'application/json' }] },
  }
  const ours = {
    ...browser,
    request: { ...browser.request, headers: [{ name: 'Authorization', value: 'Bearer [26 characters hidden]' }, { name: 'Cookie', value: 'a=[3 characters hidden]; MS-WSMAN=[12 characters hidden]' }] },
    response: { status: 200, headers: [{ name: 'Set-Cookie', value: 'MS-WSMAN=[12 characters hidden]; Path=/' }] },
    _rule: 'webext', _upstream: '127.0.1.11:4443', _member: 'fe01', _relayedBy: '',
    _forwardedHeaders: [{ name: 'Cookie', value: 'a=[3 characters hidden]; MS-WSMAN=[12 characters hidden]' }],
    _upstreamResponseHeaders: [{ name: 'Set-Cookie', value: 'MS-WSMAN=[12 characters hidden]; Path=/' }],
    _requestChanges: [{ name: 'Authorization', change: 'removed', value: 'Bearer [26 characters hidden]', why: 'test' }],
  }
  const { records: [foreign, own] } = recordsOfHar(JSON.stringify({ log: { entries: [browser, ours] } }))
  t.same(foreign?.requestHeaders, [['Authorization', 'Bearer [26 characters hidden]'], ['Cookie', 'a=[3 characters hidden]; MS-WSMAN=[12 characters hidden]'], ['X-MS-WebTicket', '[13 characters hidden]']], 'another tool\'s request: masked on reading')
  t.same(foreign?.responseHeaders, [['Set-Cookie', 'MS-WSMAN=[12 characters hidden]; Path=/'], ['Content-Type', 'application/json']], 'and its response')
  t.same(foreign?.upstreamResponseHeaders, foreign?.responseHeaders, 'on both sides')
  t.same([own?.requestHeaders, own?.responseHeaders, own?.forwardedHeaders, own?.upstreamResponseHeaders, own?.requestChanges.map((c) => c.value)],
    [ours.request.headers.map((h) => [h.name, h.value]), [['Set-Cookie', 'MS-WSMAN=[12 characters hidden]; Path=/']], [['Cookie', 'a=[3 characters hidden]; MS-WSMAN=[12 characters hidden]']], [['Set-Cookie', 'MS-WSMAN=[12 characters hidden]; Path=/']], ['Bearer [26 characters hidden]']],
    'our own export, masked already: left as it is')
})

// Any value of any field: where it holds no masked piece, the page masks it exactly as the server;
// and whatever it holds, the page shows no more of a secret than the server would of the raw value
// (a kept cookie name, an Authorization's scheme, a Set-Cookie's attributes).
t.test('any header value: the page masks as the server does, and never shows more', async (t) => {
  const names = fc.constantFrom(...SECRET_HEADERS, 'Authorization', 'COOKIE', 'Host', 'WWW-Authenticate')
  const pieces = fc.constantFrom('[3 characters hidden]', '[12 characters hidden]', 'NTLM ', 'Bearer ', '; ', ';', ', ', ',', '=', ' ', 'a=', 'Path=/', 'Zq9', 'Zq9=', '')
  fc.assert(fc.property(names, fc.string(), (name, value) => value.includes('characters hidden') || pageMask(name, value) === maskHeaderValue(name, value)), { numRuns: 2000 })
  const count = (text: string): number => text.split('Zq9').length - 1
  fc.assert(fc.property(names, fc.array(pieces, { maxLength: 12 }), (name, parts) => {
    const value = parts.join('')
    return count(pageMask(name, value)) <= count(maskHeaderValue(name, value)) && pageMask(name, pageMask(name, value)) === pageMask(name, value)
  }), { numRuns: 2000 })
  t.pass('held for 2,000 values of each kind')
})

t.test('the changed fields marked are the server\'s changes', async (t) => {
  const marks = marksOf([
    { name: 'X-Forwarded-For', change: 'added', value: '10.0.0.5', why: 'set by the proxy' },
    { name: 'Connection', change: 'removed', value: 'keep-alive', why: 'hop-by-hop' },
    { name: 'Host', change: 'replaced', value: 'fe01', from: 'webext.contoso.com', why: 'the pool\'s name' },
  ])
  t.same([...marks.before], [['connection', { change: 'removed', why: 'hop-by-hop' }]])
  t.same([...marks.after], [['x-forwarded-for', { change: 'added', why: 'set by the proxy' }], ['host', { change: 'replaced', why: 'the pool\'s name', from: 'webext.contoso.com' }]])
})

t.test('a paused feed holds the newest MAX_LIVE and counts the older ones it let go', async (t) => {
  const held: number[] = []
  let dropped = 0
  for (let i = 0; i < MAX_LIVE + 37; i++) dropped += pushBounded(held, i, MAX_LIVE).length
  t.equal(held.length, MAX_LIVE, 'no more than the flow view keeps')
  t.same([held[0], held.at(-1)], [37, MAX_LIVE + 36], 'the newest kept, in their order')
  t.equal(dropped, 37)
  t.same(pushBounded([1, 2], 3, 5), [], 'nothing dropped below the bound')
  t.equal(waitingText(0, 0), '')
  t.equal(waitingText(1, 0), '1 new exchange waits')
  t.equal(waitingText(MAX_LIVE, 37), `${MAX_LIVE} new exchanges wait, 37 older ones dropped`)
  t.equal(waitingText(MAX_LIVE, 1), `${MAX_LIVE} new exchanges wait, 1 older one dropped`)
})
