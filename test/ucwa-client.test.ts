// A UCWA client written from the UCWA 2.0 reference alone (issue 18), through the reverse proxy of
// a whole lab: it follows only the links it is handed, from the lyncdiscover name to the
// application, makes itself available, reads and sets presence, note and location, and finds
// people and their presence, checking each answer and each event against the reference's pages
// (makeMeAvailable_ref.md, presence_ref.md, note_ref.md, location_ref.md, reportMyActivity_ref.md,
// EventChannelDetails.md, people_ref.md, search_ref.md, myContacts_ref.md, contactPresence_ref.md).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startLab, type Lab } from '../src/index.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lyncproxy-ucwa-client-'))
let lab: Lab
t.before(async () => { lab = await startLab({ certsDir: path.join(work, 'certs') }) })
t.teardown(async () => {
  await lab?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

type Json = Record<string, unknown> & { _links?: Record<string, { href: string }> }
interface Answer { status: number, json: Json, text: string, challenge: string, location: string }

// The client's whole HTTP layer: UCWA hands out paths relative to the server it came from.
class Client {
  origin = ''
  bearer = ''
  async call (href: string, o: { method?: string, body?: unknown, query?: string } = {}): Promise<Answer> {
    const url = new URL(href, this.origin === '' ? undefined : this.origin)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.bearer !== '') headers.authorization = `Bearer ${this.bearer}`
    if (o.body !== undefined) headers['content-type'] = 'application/json'
    const r = await lab.fetch(url, { method: o.method ?? 'GET', headers, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) })
    const text = await r.text()
    let json: Json = {}
    try { json = text === '' ? {} : JSON.parse(text) as Json } catch { /* not JSON: the test says so */ }
    return { status: r.status, json, text, challenge: r.headers.get('www-authenticate') ?? '', location: r.headers.get('location') ?? '' }
  }
}

interface Sender { rel: string, href: string, events: Array<{ link: { rel: string, href: string }, in?: { rel: string, href: string }, type: string, _embedded?: Record<string, Json> }> }

// UCWA's Autodiscovery: the root's user link, authenticate on that pool, and where the user resource
// answers with a redirect link (a Director homes nobody), start over at the root it names, with a new
// token (a ticket is valid on one pool only). Bounded, as a client must be against a redirect loop.
// A meeting guest (RootURL.md, "Anonymous meeting join flow") starts from the organizer's SIP URI,
// asks for the anonmeeting grant instead, and creates its application with culture and userAgent.
async function signIn (client: Client, user: string, password: string, guest?: { grant: string, application: object }): Promise<Json> {
  let root = await client.call(`${lab.urls['lyncdiscover.contoso.com']}/?sipuri=${user}`)
  for (let hop = 0; hop < 3; hop++) {
    const userHref = root.json._links!.user!.href
    client.origin = new URL(userHref).origin
    client.bearer = ''
    const challenge = await client.call(userHref)
    // The 401 names the token service (UCWA's CreateAnApplication.md, step 3).
    const tokenUrl = /MsRtcOAuth href="([^"]+)"/.exec(challenge.challenge)?.[1]
    if (tokenUrl === undefined) throw new Error(`no MsRtcOAuth challenge: ${challenge.status} ${challenge.challenge}`)
    const token = await lab.fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: guest?.grant ?? `grant_type=password&username=${encodeURIComponent(user)}&password=${encodeURIComponent(password)}` })
    if (token.status !== 200) throw new Error(`token for ${user}: ${token.status} ${await token.text()}`)
    client.bearer = ((await token.json()) as { access_token: string }).access_token
    const resource = await client.call(userHref)
    const redirect = resource.json._links?.redirect?.href
    if (redirect !== undefined) {
      root = await client.call(redirect)
      continue
    }
    const created = await client.call(resource.json._links!.applications!.href, { method: 'POST', body: guest?.application ?? { culture: 'en-US', endpointId: `endpoint-${user}-${Date.now()}`, userAgent: 'reference-client/1.0' } })
    if (created.status !== 201) throw new Error(`POST applications: ${created.status} ${created.text}`)
    return created.json
  }
  throw new Error(`${user}: still redirected after three hops`)
}

function embedded (app: Json, rel: string): Json {
  return (app._embedded as Record<string, Json>)[rel]!
}

t.test('a client from the reference: makeMeAvailable, then presence, note, location and their events', async (t) => {
  const client = new Client()
  const app = await signIn(client, 'user1@contoso.com', 'Pass@word1')
  const me = embedded(app, 'me')
  t.same(Object.keys(me._links!).sort(), ['makeMeAvailable', 'self'], 'before makeMeAvailable: no presence, note or location (MeDashboard.md)')
  t.equal((await client.call(`${app._links!.self!.href}/me/presence`)).status, 409, 'presence before makeMeAvailable')
  t.match((await client.call(`${app._links!.self!.href}/me/presence`)).json, { code: 'Conflict', subcode: 'MakeMeAvailableRequired' })

  const events = app._links!.events!.href
  const firstPoll = client.call(`${events}&timeout=60`)
  const available = await client.call(me._links!.makeMeAvailable!.href, { method: 'POST', body: { signInAs: 'Online', supportedModalities: ['Messaging'], supportedMessageFormats: ['Plain'] } })
  t.equal(available.status, 204, 'makeMeAvailable: 204 No Content')
  t.equal(available.text, '')
  const polled = await firstPoll
  t.equal(polled.status, 200)
  const senders = polled.json.sender as Sender[]
  t.same(senders.map((s) => s.rel), ['communication', 'me'], 'the senders of EventChannelDetails.md\'s sample, in its order')
  t.same(senders[1]!.events.map((e) => `${e.link.rel} ${e.type}`), ['me updated', 'presence added', 'note added', 'location added'])
  t.match(senders[0]!.events[0]!._embedded!.communication, { supportedModalities: ['Messaging'], supportedMessageFormats: ['Plain'], rel: 'communication' })
  const links = Object.fromEntries(senders[1]!.events.map((e) => [e.link.rel, e.link.href]))
  t.ok(polled.json._links!.next!.href.endsWith('ack=2'), 'next asks for the following batch')

  const meNow = await client.call(me._links!.self!.href)
  t.same(Object.keys(meNow.json._links!).sort(), ['location', 'note', 'phones', 'presence', 'reportMyActivity', 'self'], 'after: presence, note, location, phones, reportMyActivity; makeMeAvailable gone')
  // phones_ref.md: a lab user has no numbers; each type is listed empty, and each phone answers.
  const phones = await client.call(meNow.json._links!.phones!.href)
  t.match(phones.json, { rel: 'phones', _embedded: { phone: [{ type: 'work', number: '' }, { type: 'mobile' }, { type: 'home' }, { type: 'other' }] } })
  const work = ((phones.json._embedded as Record<string, Json[]>).phone![0]!)._links!.self!.href
  t.match((await client.call(work)).json, { rel: 'phone', type: 'work', includeInContactCard: false })
  t.same(meNow.json.emailAddresses, ['user1@contoso.com'])
  t.equal((await client.call(me._links!.makeMeAvailable!.href, { method: 'POST', body: {} })).status, 409, 'a second makeMeAvailable: 409')

  t.match((await client.call(links.presence!)).json, { rel: 'presence', availability: 'Online' })
  const next = polled.json._links!.next!.href
  const secondPoll = client.call(`${next}&timeout=60`)
  t.equal((await client.call(links.presence!, { method: 'POST', body: { availability: 'BeRightBack' } })).status, 204, 'set presence: 204')
  const presenceEvent = (await secondPoll).json.sender as Sender[]
  t.same(presenceEvent.map((s) => s.events.map((e) => `${s.rel}: ${e.link.rel} ${e.type}`)).flat(), ['me: presence updated'])
  t.match((await client.call(links.presence!)).json, { availability: 'BeRightBack' }, 'and reads back')
  t.match((await client.call(links.presence!, { method: 'POST', body: { availability: 'Sleepy' } })).json, { code: 'BadRequest', subcode: 'ParameterValidationFailure' })
  t.equal((await client.call(links.presence!, { method: 'POST' })).status, 204, 'an empty body resets presence')
  t.match((await client.call(links.presence!)).json, { availability: 'Online' })

  t.equal((await client.call(links.note!, { method: 'POST', body: { message: 'Heads down today' } })).status, 204)
  t.same((await client.call(links.note!)).json, { rel: 'note', message: 'Heads down today', type: 'Personal', _links: { self: { href: links.note } } })
  t.equal((await client.call(links.location!, { method: 'POST', body: { location: 'Building 5' } })).status, 204)
  t.match((await client.call(links.location!)).json, { rel: 'location', location: 'Building 5' })
  t.equal((await client.call(links.location!, { method: 'POST', body: { location: 'x'.repeat(61) } })).status, 400, 'location: at most 60 characters')
  t.equal((await client.call(meNow.json._links!.reportMyActivity!.href, { method: 'POST' })).status, 204, 'reportMyActivity: 204')

  // Another user's client cannot read this application's resources.
  const other = new Client()
  await signIn(other, 'user2@contoso.com', 'Pass@word2')
  t.equal((await other.call(links.presence!)).status, 404, 'another user: ApplicationNotFound')

  // user2 is signed in but has not made itself available: an invitation cannot ring anywhere.
  const communication = (await client.call(`${app._links!.self!.href}/communication`)).json
  const ringing = await lab.fetch(new URL(communication._links!.startMessaging!.href, client.origin), { method: 'POST', headers: { authorization: `Bearer ${client.bearer}`, 'content-type': 'application/json' }, body: '{"to":"sip:user2@contoso.com"}' })
  t.equal(ringing.status, 201)
  t.match((await client.call(ringing.headers.get('location')!)).json, { direction: 'Outgoing', state: 'Disconnected' }, 'its Location answers')
  // The channel first hands over what queued up since the last poll (the presence, note and
  // location updates above): read on, a bounded number of batches, to the invitation's.
  let failed: Sender['events'] = []
  let ack = (await secondPoll).json._links!.next!.href
  for (let batch = 0; batch < 4 && !failed.some((e) => e.link.rel === 'messagingInvitation'); batch++) {
    const r = await client.call(`${ack}&timeout=60`)
    ack = r.json._links!.next!.href
    failed = (r.json.sender as Sender[]).flatMap((s) => s.events).filter((e) => e.link.rel === 'messagingInvitation')
  }
  t.same(failed.map((e) => `${e.link.rel} ${e.type}`), ['messagingInvitation started', 'messagingInvitation completed'])
  t.match(failed[1], { status: 'Failure', reason: { code: 'RemoteFailure' } })
})

// Before any other test makes user2 available: the lab's state lasts for the file.
t.test('people: search, myContacts, and a contact\'s presence as the contact publishes it', async (t) => {
  const alice = new Client()
  const app = await signIn(alice, 'user1@contoso.com', 'Pass@word1')
  const people = embedded(app, 'people')
  t.same(Object.keys(people._links!).sort(), ['myContacts', 'presenceSubscriptions', 'search', 'self', 'subscribedContacts'])
  t.same((await alice.call(people._links!.self!.href)).json, people, 'the people resource as embedded')

  const searchHref = people._links!.search!.href
  const found = await alice.call(`${searchHref}?query=${encodeURIComponent('user2')}&limit=5`)
  t.equal(found.status, 200)
  t.match(found.json, { rel: 'search', moreResultsAvailable: false })
  const contacts = (found.json._embedded as { contact: Json[] }).contact
  t.same(contacts.map((c) => c.uri), ['sip:user2@contoso.com'])
  const bob = contacts[0]!
  t.match(bob, { type: 'User', sourceNetwork: 'SameEnterprise', emailAddresses: ['user2@contoso.com'], rel: 'contact' })
  t.same(Object.keys(bob._links!).sort(), ['contactLocation', 'contactNote', 'contactPresence', 'self'])
  t.same((await alice.call(bob._links!.self!.href)).json, bob, 'the contact resource as found')
  t.match((await alice.call(bob._links!.contactPresence!.href)).json, { rel: 'contactPresence', availability: 'Offline' }, 'not signed in: Offline')

  t.equal((await alice.call(searchHref)).status, 400, 'query is required')
  t.equal((await alice.call(`${searchHref}?query=user&limit=0`)).status, 400, 'limit from 1')
  t.equal((await alice.call(`${searchHref}?query=user&limit=101`)).status, 400, 'to 100')
  const both = await alice.call(`${searchHref}?query=CONTOSO.COM&limit=1`)
  t.match(both.json, { moreResultsAvailable: true }, 'more than the limit, without regard to case')
  t.equal((both.json._embedded as { contact: Json[] }).contact.length, 1)

  const mine = await alice.call(people._links!.myContacts!.href)
  t.match(mine.json, { rel: 'myContacts' })
  t.notOk(((mine.json._embedded as { contact: Json[] }).contact).some((c) => c.uri === 'sip:user1@contoso.com'), 'not oneself')
  t.ok(((mine.json._embedded as { contact: Json[] }).contact).some((c) => c.uri === 'sip:user2@contoso.com'))

  // Bob signs in elsewhere and says he will be right back, with a note.
  const bobClient = new Client()
  const bobApp = await signIn(bobClient, 'user2@contoso.com', 'Pass@word2')
  t.equal((await bobClient.call(embedded(bobApp, 'me')._links!.makeMeAvailable!.href, { method: 'POST', body: { signInAs: 'BeRightBack' } })).status, 204)
  const bobMe = (await bobClient.call(embedded(bobApp, 'me')._links!.self!.href)).json
  t.equal((await bobClient.call(bobMe._links!.note!.href, { method: 'POST', body: { message: 'lunch' } })).status, 204)
  t.match((await alice.call(bob._links!.contactPresence!.href)).json, { availability: 'BeRightBack', deviceType: 'PC' }, 'Alice sees what Bob published')
  t.match((await alice.call(bob._links!.contactNote!.href)).json, { rel: 'contactNote', message: 'lunch' })
  t.equal((await alice.call(`${people._links!.self!.href}/nobody@contoso.com/presence`)).status, 404, 'someone not in the directory')
})

// user1 and user2, each with a new application signed in with Messaging.
async function twoAvailable (t: Test): Promise<{ alice: Client, bob: Client, aliceApp: Json, bobApp: Json }> {
  const alice = new Client()
  const bob = new Client()
  const aliceApp = await signIn(alice, 'user1@contoso.com', 'Pass@word1')
  const bobApp = await signIn(bob, 'user2@contoso.com', 'Pass@word2')
  for (const [client, app] of [[alice, aliceApp], [bob, bobApp]] as const) {
    t.equal((await client.call(embedded(app, 'me')._links!.makeMeAvailable!.href, { method: 'POST', body: { supportedModalities: ['Messaging'] } })).status, 204)
  }
  return { alice, bob, aliceApp, bobApp }
}

// Two users, two applications, two event channels: the walk-throughs SendAnIM.md (the inviter's
// side) and ReceiveAnIM.md (the invitee's), step by step.
t.test('instant messaging between two users: invitation, accept, messages both ways, stop', async (t) => {
  const { alice, bob, aliceApp, bobApp } = await twoAvailable(t)
  // Each channel's first batch is the sign-in's; the next ack waits for what follows.
  const channel = (client: Client, app: Json): { next: () => Promise<Sender[]> } => {
    let href = app._links!.events!.href
    return {
      next: async () => {
        const r = await client.call(`${href}&timeout=60`)
        href = r.json._links!.next!.href
        return r.json.sender as Sender[]
      },
    }
  }
  const aliceEvents = channel(alice, aliceApp)
  const bobEvents = channel(bob, bobApp)
  await aliceEvents.next()
  await bobEvents.next()

  const communication = (await alice.call(`${aliceApp._links!.self!.href}/communication`)).json
  const startMessaging = communication._links!.startMessaging!.href
  const invited = await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:user2@contoso.com', subject: 'Lab', importance: 'Normal', operationId: 'op-1', _links: { message: { href: 'data:text/plain;charset=utf-8,Hi+Bob%0d%0a' } } } })
  t.equal(invited.status, 201, 'startMessaging: 201 Created')
  t.equal(invited.text, '')

  const aliceStarted = await aliceEvents.next()
  const outgoing = aliceStarted[0]!.events[0]!
  t.equal(outgoing.type, 'started')
  t.match(outgoing._embedded!.messagingInvitation, { direction: 'Outgoing', state: 'Connecting', operationId: 'op-1', subject: 'Lab' })
  t.same(aliceStarted[0]!.events.map((e) => `${e.link.rel} ${e.type}`), ['messagingInvitation started', 'conversation added'])

  const bobStarted = await bobEvents.next()
  const incoming = bobStarted[0]!.events[0]!._embedded!.messagingInvitation!
  t.match(incoming, { direction: 'Incoming', state: 'Connecting', subject: 'Lab' })
  t.match((incoming._embedded as Record<string, Json>).from, { uri: 'sip:user1@contoso.com', rel: 'participant' }, 'from whom, embedded')
  t.equal(incoming._links!.message!.href, 'data:text/plain;charset=utf-8,Hi+Bob%0D%0A', 'the first message, as a data URI')
  t.match(bobStarted[0]!.events[1]!._embedded!.conversation, { state: 'Incoming' })

  t.equal((await bob.call(incoming._links!.accept!.href, { method: 'POST' })).status, 204, 'accept: 204')
  t.equal((await bob.call(incoming._links!.accept!.href, { method: 'POST' })).status, 409, 'answered already')
  const aliceAccepted = (await aliceEvents.next()).flatMap((s) => s.events)
  const completed = aliceAccepted.find((e) => e.link.rel === 'messagingInvitation')!
  t.match(completed, { type: 'completed', status: 'Success' })
  const aliceMessaging = aliceAccepted.find((e) => e.link.rel === 'messaging')!._embedded!.messaging!
  t.match(aliceMessaging, { state: 'Connected' })
  const bobAccepted = (await bobEvents.next()).flatMap((s) => s.events)
  const bobMessaging = bobAccepted.find((e) => e.link.rel === 'messaging')!._embedded!.messaging!

  const sent = await alice.call(aliceMessaging._links!.sendMessage!.href, { method: 'POST', body: undefined })
  t.equal(sent.status, 400, 'an empty message')
  const hello = await lab.fetch(new URL(aliceMessaging._links!.sendMessage!.href, alice.origin), { method: 'POST', headers: { authorization: `Bearer ${alice.bearer}`, 'content-type': 'text/plain' }, body: 'What\'s up?' })
  t.equal(hello.status, 201, 'sendMessage: 201 Created')
  t.match(hello.headers.get('location') ?? '', /\/messaging\/messages\/1$/)
  t.match((await alice.call(hello.headers.get('location')!)).json, { direction: 'Outgoing', rel: 'message' }, 'the Location answers')
  const outgoingMessage = (await aliceEvents.next()).flatMap((s) => s.events)[0]!
  t.match(outgoingMessage, { type: 'completed', status: 'Success', _embedded: { message: { direction: 'Outgoing' } } })
  const incomingMessage = (await bobEvents.next()).flatMap((s) => s.events)[0]!
  const message = incomingMessage._embedded!.message!
  t.match(message, { direction: 'Incoming' })
  t.equal(message._links!.plainMessage!.href, 'data:text/plain;charset=utf-8,What%27s+up%3F', 'the text, URL-encoded')

  const reply = await lab.fetch(new URL(bobMessaging._links!.sendMessage!.href, bob.origin), { method: 'POST', headers: { authorization: `Bearer ${bob.bearer}`, 'content-type': 'text/plain' }, body: 'Not much' })
  t.equal(reply.status, 201, 'and back')
  await bobEvents.next()
  const back = (await aliceEvents.next()).flatMap((s) => s.events)[0]!._embedded!.message!
  t.equal(back._links!.plainMessage!.href, 'data:text/plain;charset=utf-8,Not+much')

  const conversations = (await bob.call(`${bobApp._links!.self!.href}/communication/conversations`)).json
  t.equal((conversations._links!.conversation as unknown as unknown[]).length, 1, 'one active conversation')
  t.equal((await alice.call(aliceMessaging._links!.stopMessaging!.href, { method: 'POST' })).status, 204, 'stopMessaging: 204')
  const bobStopped = (await bobEvents.next()).flatMap((s) => s.events)
  t.match(bobStopped.find((e) => e.link.rel === 'messaging')!._embedded!.messaging, { state: 'Disconnected' })

  // A second invitation, declined: completed with a reason on the inviter's side.
  t.equal((await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:user2@contoso.com', subject: 'Again?', threadId: 'lab-thread-2' } })).status, 201)
  t.equal((await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:user2@contoso.com', threadId: 'lab-thread-2' } })).status, 409, 'a threadId in use')
  await aliceEvents.next()
  const again = (await bobEvents.next()).flatMap((s) => s.events).find((e) => e.link.rel === 'messagingInvitation')!._embedded!.messagingInvitation!
  t.match(again, { subject: 'Again?', direction: 'Incoming' })
  t.equal((await bob.call(again._links!.decline!.href, { method: 'POST' })).status, 204, 'decline: 204')
  const declined = (await aliceEvents.next()).flatMap((s) => s.events).find((e) => e.link.rel === 'messagingInvitation')!
  t.match(declined, { type: 'completed', status: 'Failure', reason: { code: 'RemoteFailure' } })

  // Someone not in the directory.
  const carol = await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:nobody@contoso.com' } })
  t.equal(carol.status, 400, 'someone not in the directory')
  t.equal((await bob.call(incoming._links!.self!.href)).status, 200, 'the invitation resource')
})

t.test('an invitation stopped before its answer, an application deleted mid-conversation, and no Messaging', async (t) => {
  const { alice, bob, aliceApp, bobApp } = await twoAvailable(t)
  // Reads a channel until a batch has an event for `rel` (bounded), and returns that batch's events.
  const until = async (client: Client, app: Json, rel: string): Promise<Sender['events']> => {
    let href = app._links!.events!.href
    for (let i = 0; i < 6; i++) {
      const r = await client.call(`${href}&timeout=30`)
      href = r.json._links!.next!.href
      const events = (r.json.sender as Sender[]).flatMap((s) => s.events)
      if (events.some((e) => e.link.rel === rel)) { app._links!.events!.href = href; return events }
    }
    return []
  }
  const startMessaging = `${aliceApp._links!.self!.href}/communication/messagingInvitations`
  t.equal((await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:user2@contoso.com' } })).status, 201)
  const started = await until(alice, aliceApp, 'conversation')
  const conversation = started.find((e) => e.link.rel === 'conversation')!._embedded!.conversation!
  await until(bob, bobApp, 'messagingInvitation')
  t.equal((await alice.call(`${conversation._links!.messaging!.href}/terminate`, { method: 'POST' })).status, 204, 'stopped before an answer')
  const cancelled = (await until(bob, bobApp, 'messagingInvitation')).find((e) => e.link.rel === 'messagingInvitation')!
  t.match(cancelled, { type: 'completed', status: 'Failure' }, 'the invitee\'s invitation completes too')

  t.equal((await alice.call(startMessaging, { method: 'POST', body: { to: 'sip:user2@contoso.com' } })).status, 201)
  await until(alice, aliceApp, 'messagingInvitation')
  const invitation = (await until(bob, bobApp, 'messagingInvitation')).find((e) => e.link.rel === 'messagingInvitation')!._embedded!.messagingInvitation!
  t.equal((await bob.call(invitation._links!.accept!.href, { method: 'POST' })).status, 204)
  await until(alice, aliceApp, 'messaging')
  t.equal((await bob.call(bobApp._links!.self!.href, { method: 'DELETE' })).status, 204, 'bob deletes his application')
  const ended = (await until(alice, aliceApp, 'messaging')).find((e) => e.link.rel === 'messaging')!
  t.match(ended._embedded!.messaging, { state: 'Disconnected' }, 'and alice is told the conversation is over')

  const phoneOnly = new Client()
  const phoneApp = await signIn(phoneOnly, 'user1@contoso.com', 'Pass@word1')
  await phoneOnly.call(embedded(phoneApp, 'me')._links!.makeMeAvailable!.href, { method: 'POST', body: { supportedModalities: ['PhoneAudio'] } })
  t.equal((await phoneOnly.call(`${phoneApp._links!.self!.href}/communication/messagingInvitations`, { method: 'POST', body: { to: 'sip:user2@contoso.com' } })).status, 403, 'no Messaging, no IM')
})

t.test('makeMeAvailable refuses what the reference refuses', async (t) => {
  const client = new Client()
  const app = await signIn(client, 'user2@contoso.com', 'Pass@word2')
  const href = embedded(app, 'me')._links!.makeMeAvailable!.href
  t.equal((await client.call(href, { method: 'POST', body: { signInAs: 'Asleep' } })).status, 400, 'an availability that is not one')
  t.equal((await client.call(href, { method: 'POST', body: { supportedModalities: ['Video'] } })).status, 403, 'a modality other than Messaging and PhoneAudio')
  // PascalCase, as GetMyPresenceInformation.md sends it.
  t.equal((await client.call(href, { method: 'POST', body: { SupportedModalities: ['Messaging'] } })).status, 204)
})

// ScheduleAnOnlineMeeting.md, myOnlineMeetings_ref.md, policies_ref.md: a meeting scheduled through
// the proxy, whose joinUrl then opens through the proxy's meet rule on the same conference.
t.test('a client schedules a meeting and opens its join URL; reads policies', async (t) => {
  const client = new Client()
  const app = await signIn(client, 'user1@contoso.com', 'Pass@word1')
  const policies = await client.call(app._links!.policies!.href)
  t.equal(policies.status, 200)
  t.match(policies.json, { rel: 'policies', htmlMessaging: 'Disabled', photos: 'Disabled' })

  const onlineMeetings = embedded(app, 'onlineMeetings')
  const mine = await client.call(onlineMeetings._links!.myOnlineMeetings!.href)
  t.same(mine.json._embedded, { myOnlineMeeting: [] }, 'no meetings yet')
  const scheduled = await client.call(onlineMeetings._links!.myOnlineMeetings!.href, {
    method: 'POST',
    body: { attendanceAnnouncementsStatus: 'Disabled', description: 'quarterly numbers', subject: 'review', attendees: ['sip:user2@contoso.com'], leaders: [] },
  })
  t.equal(scheduled.status, 200, 'the walk-through answers 200')
  const meeting = scheduled.json as Json & { onlineMeetingId: string, onlineMeetingUri: string, joinUrl: string, expirationTime: string }
  t.match(meeting, {
    rel: 'myOnlineMeeting', subject: 'review', description: 'quarterly numbers', attendees: ['sip:user2@contoso.com'], leaders: [],
    accessLevel: 'SameEnterprise', organizerUri: 'sip:user1@contoso.com', onlineMeetingRel: 'myOnlineMeetings',
    onlineMeetingId: /^[A-Z0-9]{8}$/, expirationTime: /^\/Date\(\d+\)\/$/,
  })
  t.equal(meeting.onlineMeetingUri, `sip:user1@contoso.com;gruu;opaque=app:conf:focus:id:${meeting.onlineMeetingId}`)
  t.equal(meeting.joinUrl, `https://meet.contoso.com/user1/${meeting.onlineMeetingId}`)
  const hours = (Number(/\d+/.exec(meeting.expirationTime)![0]) - Date.now()) / 3600_000
  t.ok(hours > 7.9 && hours <= 8, 'expires in 8 hours when not told')

  // The join URL, as an attendee's browser opens it: through the proxy to the pool's Meet page.
  const page = await lab.fetch(meeting.joinUrl)
  t.equal(page.status, 200)
  t.match(await page.text(), `<code id="conference-uri">${meeting.onlineMeetingUri.replaceAll('&', '&amp;')}</code>`)

  t.equal((await client.call(meeting._links!.self!.href)).json.subject, 'review')
  t.match((await client.call(onlineMeetings._links!.myOnlineMeetings!.href)).json._embedded, { myOnlineMeeting: [{ onlineMeetingId: meeting.onlineMeetingId }] })
  const bad = await client.call(onlineMeetings._links!.myOnlineMeetings!.href, { method: 'POST', body: { accessLevel: 'Anyone' } })
  t.equal(bad.status, 400)
  t.match(bad.json, { subcode: 'ParameterValidationFailure', message: /accessLevel must be one of Everyone, Invited, Locked, None, SameEnterprise/ })
  t.equal((await client.call(meeting._links!.self!.href, { method: 'DELETE' })).status, 204)
  t.equal((await client.call(meeting._links!.self!.href)).status, 404, 'gone once deleted')
})

// SubscribeToThePresenceOfSelectedContacts.md, ExtendAPresenceSubscription.md,
// DeleteAPresenceSubscription.md: user1 watches user2, sees each change of user2's presence on its
// own channel as the walk-through's events, extends, and stops watching.
t.test('a client subscribes to a contact\'s presence and is told of each change', async (t) => {
  const watcher = new Client()
  const wApp = await signIn(watcher, 'user1@contoso.com', 'Pass@word1')
  const watched = new Client()
  const dApp = await signIn(watched, 'user2@contoso.com', 'Pass@word2')
  const people = embedded(wApp, 'people')
  let next = wApp._links!.events!.href
  const poll = async (): Promise<Sender[]> => {
    const r = await watcher.call(next)
    next = r.json._links!.next!.href
    return r.json.sender as Sender[]
  }
  const lines = (senders: Sender[]): string[] => senders.flatMap((s) => s.events.map((e) => `${s.rel}: ${e.link.rel} ${e.type}${e.in === undefined ? '' : ` in ${e.in.rel}`}`))

  const refused = await watcher.call(people._links!.presenceSubscriptions!.href, { method: 'POST', body: { duration: 5, uris: ['sip:user2@contoso.com'] } })
  t.match(refused.json, { code: 'BadRequest', message: /duration is a whole number of minutes from 10 to 30/ })
  const created = await watcher.call(people._links!.presenceSubscriptions!.href, { method: 'POST', body: { duration: 11, Uris: ['sip:user2@contoso.com'] } })
  t.equal(created.status, 201, '201 Created, as the walk-through shows')
  t.match(created.json, { id: /^[0-9a-f]{8}$/, rel: 'presenceSubscription' })
  t.same(lines(await poll()), ['people: contact added in subscribedContacts', 'people: presenceSubscription added', 'people: contactPresence updated in contact'])

  // user2 signs in for real: user1's channel says its presence changed, and it reads Online.
  const dMe = embedded(dApp, 'me')
  const changed = poll()
  t.equal((await watched.call(dMe._links!.makeMeAvailable!.href, { method: 'POST', body: { supportedModalities: ['Messaging'] } })).status, 204)
  const events = await changed
  t.same(lines(events), ['people: contactPresence updated in contact'])
  const presenceHref = events[0]!.events[0]!.link.href
  t.match((await watcher.call(presenceHref)).json, { availability: 'Online' })
  const away = poll()
  t.equal((await watched.call(`${dApp._links!.self!.href}/me/presence`, { method: 'POST', body: { availability: 'Away' } })).status, 204)
  t.same(lines(await away), ['people: contactPresence updated in contact'])
  t.match((await watcher.call(presenceHref)).json, { availability: 'Away' }, 'the change the event announced')
  const noted = poll()
  t.equal((await watched.call(`${dApp._links!.self!.href}/me/note`, { method: 'POST', body: { message: 'in a meeting' } })).status, 204)
  t.same(lines(await noted), ['people: contactNote updated in contact'])

  const self = created.json._links!.self!.href
  const subscribed = await watcher.call(people._links!.subscribedContacts!.href)
  t.match(subscribed.json, { rel: 'subscribedContacts', _embedded: { contact: [{ uri: 'sip:user2@contoso.com' }] } })
  t.equal((await watcher.call(`${self}?duration=20`, { method: 'POST' })).status, 200, 'extended (ExtendAPresenceSubscription.md)')
  t.equal((await watcher.call(`${self}?duration=60`, { method: 'POST' })).status, 400, 'past 30 minutes: refused')
  t.equal((await watcher.call(self, { method: 'DELETE' })).status, 204)
  t.equal((await watcher.call(self)).status, 404, 'gone once deleted')

  // No longer watching: user2's next change raises nothing on user1's channel; a marker comes first.
  t.equal((await watched.call(`${dApp._links!.self!.href}/me/presence`, { method: 'POST', body: { availability: 'Busy' } })).status, 204)
  const marker = await lab.fetch(new URL('/lab/events', watcher.origin), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sipUri":"user1@contoso.com","event":{"rel":"marker"}}' })
  t.equal(marker.status, 200)
  t.same((await poll()).map((s) => s.rel), ['marker'], 'nothing from user2 after the subscription ended')
})

// Reads an application's event channel batch after batch (bounded) until what arrived since the
// last call satisfies `done`, and returns all of it: where events fall between batches is the
// server's timing, not the client's business.
class EventReader {
  private href: string
  constructor (private readonly client: Client, app: Json) { this.href = app._links!.events!.href }
  async until (done: (events: Sender['events']) => boolean): Promise<Sender['events']> {
    const seen: Sender['events'] = []
    for (let batch = 0; batch < 8 && !done(seen); batch++) {
      const r = await this.client.call(`${this.href}&timeout=60`)
      this.href = r.json._links!.next!.href
      seen.push(...(r.json.sender as Sender[]).flatMap((s) => s.events))
    }
    return seen
  }
}
const has = (rel: string, type: string) => (events: Sender['events']): boolean => events.some((e) => e.link.rel === rel && e.type === type)
const named = (events: Sender['events'], rel: string, type: string): Sender['events'][number] | undefined => events.find((e) => e.link.rel === rel && e.type === type)

// The anonymous join as the reference's AnonMeeting.js and Authentication.js make it: the organizer
// schedules a meeting that admits everyone and joins it; a guest with only the conference URI signs
// in with the anonmeeting grant (AuthenticationInUCWA.md), joins (joinOnlineMeeting_ref.md), adds
// messaging when messaging says Disconnected (addMessaging_ref.md), and the two talk, each seeing
// the other as a participant (participant_ref.md).
t.test('a guest joins a meeting anonymously and talks with the organizer', async (t) => {
  const organizer = new Client()
  const orgApp = await signIn(organizer, 'user1@contoso.com', 'Pass@word1')
  const orgEvents = new EventReader(organizer, orgApp)
  t.equal((await organizer.call(embedded(orgApp, 'me')._links!.makeMeAvailable!.href, { method: 'POST', body: { supportedModalities: ['Messaging'] } })).status, 204)
  await orgEvents.until(has('me', 'updated'))
  const schedule = embedded(orgApp, 'onlineMeetings')._links!.myOnlineMeetings!.href
  const open = (await organizer.call(schedule, { method: 'POST', body: { subject: 'open house', accessLevel: 'Everyone' } })).json as Json & { onlineMeetingUri: string, onlineMeetingId: string }
  const closed = (await organizer.call(schedule, { method: 'POST', body: { subject: 'staff only' } })).json as Json & { onlineMeetingUri: string, onlineMeetingId: string }

  const orgCommunication = (await organizer.call(embedded(orgApp, 'communication')._links!.self!.href)).json
  const orgJoin = await organizer.call(orgCommunication._links!.joinOnlineMeeting!.href, { method: 'POST', body: { onlineMeetingUri: open.onlineMeetingUri, operationId: 'org-join' } })
  t.equal(orgJoin.status, 201, 'the organizer joins: 201')
  const orgJoined = await orgEvents.until(has('messaging', 'updated'))
  t.match(named(orgJoined, 'onlineMeetingInvitation', 'completed'), { status: 'Success', _embedded: { onlineMeetingInvitation: { operationId: 'org-join', onlineMeetingUri: open.onlineMeetingUri, direction: 'Outgoing' } } })
  const orgMessaging = named(orgJoined, 'messaging', 'updated')!._embedded!.messaging!
  t.equal(orgMessaging.state, 'Disconnected', 'messaging is not part of the join')
  t.equal((await organizer.call(orgMessaging._links!.addMessaging!.href, { method: 'POST', body: { operationId: 'org-im' } })).status, 201, 'addMessaging: 201')
  const orgConnected = named(await orgEvents.until(has('messagingInvitation', 'completed')), 'messaging', 'updated')!._embedded!.messaging!
  t.equal(orgConnected.state, 'Connected')

  // The guest has nothing but the conference URI; the conference id is its key.
  const token = async (uri: string, key: string): Promise<Response> => await lab.fetch(`${lab.urls['webext.contoso.com']}/WebTicket/oauthtoken`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=urn:microsoft.rtc:anonmeeting&ms_rtc_conferenceuri=${encodeURIComponent(uri)}&password=${encodeURIComponent(key)}`,
  })
  const wrongKey = await token(open.onlineMeetingUri, 'NOTTHEKEY')
  t.equal(wrongKey.status, 400, 'a wrong conference key')
  t.match(await wrongKey.json(), { error: 'invalid_grant' })
  t.equal((await token('sip:user1@contoso.com', open.onlineMeetingId)).status, 400, 'not a conference URI')

  const guestOf = (m: { onlineMeetingUri: string, onlineMeetingId: string }) => ({
    grant: `grant_type=urn:microsoft.rtc:anonmeeting&ms_rtc_conferenceuri=${encodeURIComponent(m.onlineMeetingUri)}&password=${m.onlineMeetingId}`,
    application: { culture: 'en-US', userAgent: 'UCWA Samples - Anon Meeting' },
  })
  const guest = new Client()
  const guestApp = await signIn(guest, 'user1@contoso.com', '', guestOf(open))
  t.same(Object.keys(guestApp._embedded as object).sort(), ['communication', 'me'], 'a guest\'s application: me and communication only')
  t.match(embedded(guestApp, 'me'), { uri: /^sip:\d+@anonymous\.invalid$/, rel: 'me' })
  const guestCommunication = embedded(guestApp, 'communication')
  t.ok(guestCommunication._links!.joinOnlineMeeting, 'joinOnlineMeeting from the start, without makeMeAvailable')
  t.notOk(guestCommunication._links!.startMessaging, 'no IM of its own')
  const guestBase = guestApp._links!.self!.href
  for (const path of ['/people/search?query=user2', '/me/presence', '/onlineMeetings/myOnlineMeetings']) {
    t.match(await guest.call(guestBase + path), { status: 403, json: { code: 'Forbidden', subcode: 'AnonymousNotAllowed' } }, `a guest has no ${path}`)
  }
  t.equal((await guest.call(`${guestBase}/me/makeMeAvailable`, { method: 'POST', body: {} })).status, 403, 'nor makeMeAvailable')
  const join = guestCommunication._links!.joinOnlineMeeting!.href
  t.match(await guest.call(join, { method: 'POST', body: { onlineMeetingUri: closed.onlineMeetingUri, anonymousDisplayName: 'Visitor' } }), { status: 403, json: { code: 'Forbidden' } }, 'only the conference its ticket names')
  t.match(await guest.call(join, { method: 'POST', body: { onlineMeetingUri: open.onlineMeetingUri } }), { status: 400, json: { subcode: 'ParameterValidationFailure' } }, 'a guest must give a name')

  const guestEvents = new EventReader(guest, guestApp)
  const joined = await guest.call(join, { method: 'POST', body: { anonymousDisplayName: 'Visitor', onlineMeetingUri: open.onlineMeetingUri, operationId: 'guest-join' } })
  t.equal(joined.status, 201, 'the guest joins: 201')
  t.equal((await guest.call(join, { method: 'POST', body: { anonymousDisplayName: 'Visitor' } })).status, 409, 'joined already')
  t.match((await guest.call(joined.location)).json, { rel: 'onlineMeetingInvitation', direction: 'Outgoing', anonymousDisplayName: 'Visitor' }, 'the Location answers')
  const guestJoined = await guestEvents.until(has('messaging', 'updated'))
  t.same(guestJoined.map((e) => `${e.link.rel} ${e.type}`), [
    'onlineMeetingInvitation started', 'conversation added', 'participant added', 'conversation updated', 'onlineMeetingInvitation completed', 'messaging updated',
  ], 'the join\'s events, in order')
  t.match(named(guestJoined, 'participant', 'added')!.link, { title: 'Lab User One' }, 'the organizer is in the roster, by name')
  t.match(named(guestJoined, 'onlineMeetingInvitation', 'completed'), { status: 'Success', _embedded: { onlineMeetingInvitation: { anonymousDisplayName: 'Visitor', operationId: 'guest-join', state: 'Connected' } } })
  const conversation = named(guestJoined, 'conversation', 'updated')!._embedded!.conversation!
  t.match(conversation, { state: 'Connected', subject: 'open house', participantCount: 2 })
  t.match(await organizer.call(orgCommunication._links!.conversations!.href), { json: { _links: { conversation: [{ href: /\/conversations\// }] } } }, 'the meeting is among the organizer\'s conversations')
  t.match(named(await orgEvents.until(has('participant', 'added')), 'participant', 'added')!.link, { title: 'Visitor' }, 'the organizer sees the guest arrive')

  const guestMessaging = named(guestJoined, 'messaging', 'updated')!._embedded!.messaging!
  t.equal((await guest.call(guestMessaging._links!.addMessaging!.href, { method: 'POST', body: { operationId: 'guest-im' } })).status, 201)
  const guestConnected = named(await guestEvents.until(has('messagingInvitation', 'completed')), 'messaging', 'updated')!._embedded!.messaging!
  t.equal(guestConnected.state, 'Connected')

  const say = async (client: Client, href: string, text: string): Promise<number> =>
    (await lab.fetch(new URL(href, client.origin), { method: 'POST', headers: { authorization: `Bearer ${client.bearer}`, 'content-type': 'text/plain' }, body: text })).status
  t.equal(await say(guest, guestConnected._links!.sendMessage!.href, 'Hello, is this the open house?'), 201, 'the guest speaks')
  const heard = named(await orgEvents.until(has('message', 'completed')), 'message', 'completed')!._embedded!.message!
  t.equal(heard._links!.plainMessage!.href, 'data:text/plain;charset=utf-8,Hello%2C+is+this+the+open+house%3F')
  t.match((await organizer.call(heard._links!.participant!.href)).json, { name: 'Visitor', anonymous: true, rel: 'participant' }, 'from whom: the guest')
  t.equal(await say(organizer, orgConnected._links!.sendMessage!.href, 'It is. Welcome!'), 201, 'the organizer answers')
  const answer = (await guestEvents.until(has('message', 'completed'))).filter((e) => e.link.rel === 'message').map((e) => e._embedded!.message!)
  const welcome = answer.find((m) => m.direction === 'Incoming')!
  t.equal(welcome._links!.plainMessage!.href, 'data:text/plain;charset=utf-8,It+is.+Welcome%21')
  t.match((await guest.call(welcome._links!.participant!.href)).json, { name: 'Lab User One', anonymous: false, organizer: true, role: 'Leader' }, 'and from the organizer')

  t.equal((await guest.call(conversation._links!.self!.href, { method: 'DELETE' })).status, 204, 'the guest leaves')
  t.ok(has('participant', 'deleted')(await orgEvents.until(has('participant', 'deleted'))), 'the organizer sees the guest go')

  // A meeting for the same enterprise: the lab has no lobby, so the guest is refused, with the reason.
  const outsider = new Client()
  const outsiderApp = await signIn(outsider, 'user1@contoso.com', '', guestOf(closed))
  const outsiderEvents = new EventReader(outsider, outsiderApp)
  t.equal((await outsider.call(embedded(outsiderApp, 'communication')._links!.joinOnlineMeeting!.href, { method: 'POST', body: { anonymousDisplayName: 'Stranger' } })).status, 201)
  const refusal = await outsiderEvents.until(has('onlineMeetingInvitation', 'completed'))
  t.match(named(refusal, 'onlineMeetingInvitation', 'completed'), { status: 'Failure', reason: { code: 'Forbidden', message: /accessLevel is SameEnterprise.*no lobby/ } })
  const refusedConversation = named(refusal, 'onlineMeetingInvitation', 'completed')!._embedded!.onlineMeetingInvitation!._links!.conversation!.href
  t.equal((await outsider.call(`${refusedConversation}/participants`)).status, 404, 'a refused guest sees no roster')
  t.equal((await outsider.call(`${refusedConversation}/messaging/messages/1`)).status, 404, 'and no message')

  // A guest who joins later reads only what was said since; the organizer's earlier message is not its to read.
  const late = new Client()
  const lateApp = await signIn(late, 'user1@contoso.com', '', guestOf(open))
  const lateEvents = new EventReader(late, lateApp)
  t.equal((await late.call(embedded(lateApp, 'communication')._links!.joinOnlineMeeting!.href, { method: 'POST', body: { anonymousDisplayName: 'Latecomer' } })).status, 201)
  const lateConversation = named(await lateEvents.until(has('onlineMeetingInvitation', 'completed')), 'conversation', 'added')!.link.href
  t.equal((await late.call(`${lateConversation}/messaging/messages/2`)).status, 404, 'a message from before it joined')
  t.equal((await late.call(`${lateConversation}/participants`)).status, 200, 'but it sees who is there')
})
