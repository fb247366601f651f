// UCWA's XML representation (PayloadFormat.md): the Accept negotiation, the mapping of a resource,
// an event answer and an error, checked element by element and, for well-formedness, by xmllint
// (libxml2-utils), also on random resources; then a Front End answering in XML over real TLS.
import t from 'tap'
import fc from 'fast-check'
import { Agent, request } from 'undici'
import { startStandIn } from '../src/lab/standin/index.js'
import { toUcwaXml, UCWA_XML, xmlTypeWanted } from '../src/lab/standin/ucwa/xml.js'
import { run } from './helpers/run.js'
import { throwawayCert } from './helpers/throwaway-cert.js'

const NS = 'xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"'
const xmllint = await run('xmllint', ['--version']).then(() => true, () => false)
const wellFormed = async (xml: string): Promise<string> => {
  const r = await run('xmllint', ['--noout', '-'], xml)
  return r.code === 0 ? 'ok' : r.stderr
}

t.test('Accept: XML only when preferred to JSON', async (t) => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined], ['*/*', undefined], ['application/json', undefined],
    [UCWA_XML, UCWA_XML], ['application/xml', 'application/xml'], ['Application/Vnd.Microsoft.Com.Ucwa+XML', UCWA_XML],
    ['application/json, application/xml;q=0.5', undefined], ['application/json;q=0.5, application/xml', 'application/xml'],
    [`${UCWA_XML};q=0`, undefined], ['application/xml;q=1, application/json;q=1', undefined],
  ]
  for (const [accept, wanted] of cases) t.equal(xmlTypeWanted(accept), wanted, String(accept))
})

t.test('a resource, the event answer and the error body, mapped as the reference shows', async (t) => {
  const meeting = {
    subject: 'review <Q4> & "plans"',
    attendees: ['sip:user2@contoso.com', 'sip:user3@contoso.com'],
    leaders: [],
    expirationTime: '/Date(1474932029050)/',
    description: '',
    _links: { self: { href: '/ucwa/oauth/v1/applications/1/onlineMeetings/myOnlineMeetings/ABC' }, extensions: { href: '/x' } },
    _embedded: { contact: [{ rel: 'contact', name: 'A', _links: { self: { href: '/a' } } }, { rel: 'contact', name: 'B', _links: { self: { href: '/b' } } }] },
    rel: 'myOnlineMeeting',
    etag: '891',
  }
  t.equal(toUcwaXml(meeting), '<?xml version="1.0" encoding="utf-8"?>' +
    `<resource rel="myOnlineMeeting" href="/ucwa/oauth/v1/applications/1/onlineMeetings/myOnlineMeetings/ABC" ${NS}>` +
    '<link rel="extensions" href="/x"/>' +
    '<property name="subject">review &lt;Q4&gt; &amp; &quot;plans&quot;</property>' +
    '<propertyList name="attendees"><item>sip:user2@contoso.com</item><item>sip:user3@contoso.com</item></propertyList>' +
    '<propertyList name="leaders"></propertyList>' +
    '<property name="expirationTime">2016-09-26T23:20:29.050Z</property>' +
    '<property name="description"/>' +
    '<property name="etag">891</property>' +
    '<resource rel="contact" href="/a"><property name="name">A</property></resource>' +
    '<resource rel="contact" href="/b"><property name="name">B</property></resource>' +
    '</resource>')

  const answer = {
    _links: { self: { href: '/e?ack=1' }, next: { href: '/e?ack=2' } },
    sender: [{
      rel: 'me',
      href: '/me',
      events: [
        { link: { rel: 'me', href: '/me' }, type: 'updated' },
        { link: { rel: 'presence', href: '/me/presence' }, type: 'added', _embedded: { presence: { availability: 'Online', _links: { self: { href: '/me/presence' } }, rel: 'presence' } } },
      ],
    }],
  }
  t.equal(toUcwaXml(answer), '<?xml version="1.0" encoding="utf-8"?>' +
    `<events href="/e?ack=1" ${NS}><link rel="next" href="/e?ack=2"/>` +
    '<sender rel="me" href="/me"><updated rel="me" href="/me"/>' +
    '<added rel="presence" href="/me/presence"><resource rel="presence" href="/me/presence"><property name="availability">Online</property></resource></added>' +
    '</sender></events>')
  const roster = { _links: { self: { href: '/e?ack=3' } }, sender: [{ rel: 'conversation', href: '/c', events: [{ link: { rel: 'participant', href: '/c/participants/1', title: 'Visitor' }, type: 'added' }] }] }
  t.match(toUcwaXml(roster), '<sender rel="conversation" href="/c"><added rel="participant" href="/c/participants/1" title="Visitor"/></sender>', 'a participant event keeps its title')
  t.equal(toUcwaXml({ _links: { resync: { href: '/e?ack=1' } } }), `<?xml version="1.0" encoding="utf-8"?><events ${NS}><link rel="resync" href="/e?ack=1"/></events>`)
  t.equal(toUcwaXml({ code: 'Conflict', subcode: 'AlreadyExists', message: 'Twice.' }),
    `<?xml version="1.0" encoding="utf-8"?><reason ${NS}><code>Conflict</code><subcode>AlreadyExists</subcode><message>Twice.</message></reason>`)
})

t.test('well-formed whatever the values (xmllint)', { skip: xmllint ? false : 'xmllint is not installed (apt-get install libxml2-utils)' }, async (t) => {
  const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 3 }))
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,10}$/)
  const resource = fc.record({
    rel: name,
    props: fc.dictionary(name, value, { maxKeys: 5 }),
    links: fc.dictionary(name, fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 3 }),
  }).map((r) => ({ ...r.props, rel: r.rel, _links: Object.fromEntries(Object.entries(r.links).map(([k, v]) => [k, { href: v }])) }))
  const docs = fc.sample(fc.record({ top: resource, inner: fc.array(resource, { maxLength: 3 }) }).map((d) => ({ ...d.top, _embedded: { item: d.inner } })), 150)
  const failures: string[] = []
  for (const doc of docs) {
    const verdict = await wellFormed(toUcwaXml(doc))
    if (verdict !== 'ok') failures.push(`${JSON.stringify(doc)}: ${verdict}`)
  }
  t.same(failures.slice(0, 3), [], `${docs.length} random resources, each well-formed`)
})

t.test('a Front End answers in XML when asked', async (t) => {
  const tls = await throwawayCert('pool01.contoso.net')
  const fe = await startStandIn({
    member: 'fe01', role: 'frontend', serverFqdn: 'fe01.contoso.net', address: '127.0.0.1', tls,
    sites: [{ kind: 'external', protocol: 'https', port: 0 }],
    topology: { sipDomain: 'contoso.com', frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' }, users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1', displayName: 'User <One>' }], ucwa: { minEventTimeout: 1 } },
  })
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(async () => { await fe.close(); await agent.close() })
  const call = async (path: string, headers: Record<string, string>, body?: string): Promise<{ status: number, type: string, text: string }> => {
    const res = await request(`https://127.0.0.1:${fe.sites[0]!.port}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { host: 'webext.contoso.com', ...headers }, body, dispatcher: agent })
    return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() }
  }
  const token = JSON.parse((await call('/WebTicket/oauthtoken', { 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=password&username=user1%40contoso.com&password=Pass%40word1')).text).access_token as string
  const auth = { authorization: `Bearer ${token}`, accept: UCWA_XML }
  const created = await call('/ucwa/oauth/v1/applications', { ...auth, 'content-type': 'application/json' }, '{"userAgent":"x","endpointId":"xml","culture":"en-US"}')
  t.equal(created.status, 201)
  t.equal(created.type, `${UCWA_XML}; charset=utf-8`)
  const id = /<resource rel="application" href="\/ucwa\/oauth\/v1\/applications\/([0-9a-f]{16})"/.exec(created.text)?.[1]
  t.ok(id, 'the application as <resource rel="application" href=…>')
  t.match(created.text, '<link rel="events" href="/ucwa/oauth/v1/applications/')
  t.match(created.text, '<resource rel="me" href=', 'me embedded as a resource')
  t.match(created.text, '<property name="name">User &lt;One&gt;</property>')
  if (xmllint) t.equal(await wellFormed(created.text), 'ok')

  const quiet = await call(`/ucwa/oauth/v1/applications/${id!}/events?ack=1&timeout=1`, auth)
  t.match(quiet.text, new RegExp(`<events href="/ucwa/oauth/v1/applications/${id!}/events\\?ack=1" ${NS}><link rel="next" href="[^"]+ack=2"/></events>$`))
  const missing = await call(`/ucwa/oauth/v1/applications/${id!}/nothing`, auth)
  t.equal(missing.status, 404)
  t.match(missing.text, /<reason xmlns="[^"]+"><code>NotFound<\/code>/)
  const json = await call(`/ucwa/oauth/v1/applications/${id!}`, { authorization: auth.authorization })
  t.equal(json.type, 'application/json; charset=utf-8', 'no Accept: JSON, as before')
})
