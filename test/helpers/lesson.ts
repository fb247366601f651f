// A lesson: what four Lync clients do through the lab, each request logged in the order it was
// answered. A mobile client signs in from lyncdiscover on 80 to its home pool (the Director's
// redirect, the user resource's MsRtcOAuth challenge, the token, applications, makeMeAvailable, the
// event channel) and schedules a meeting anyone may join; a desktop client downloads the address
// book with NTLM on one keep-alive connection; a guest opens the join link, signs in anonymously and
// joins; and someone asks for a name nothing publishes. The flow view's browser test checks the page
// against these logs, and scripts/teaching-screenshot.ts runs the same lesson for the README's picture.
import http from 'node:http'
import https from 'node:https'
import type { Lab } from '../../src/api/lab.js'
import { decodeChallenge } from '../../src/ntlm/messages.js'
import { authenticateMessage, negotiateMessage, ntlmIdentity } from '../../src/probe/ntlm.js'

// What of a lab the lesson uses: its names, its listeners, its CA and a fetch that reaches them.
export type LessonTarget = Pick<Lab, 'fetch' | 'https' | 'http' | 'ca' | 'urls' | 'httpUrls'>

export type Json = Record<string, unknown> & { _links?: Record<string, { href: string }>, _embedded?: Record<string, Json> }

// What a client did, one entry per request, in the order it got its answers: what the flow view
// must show as the flow's steps.
export interface Sent { method: string, host: string, path: string, status: number }

// A UCWA client that follows only the links it is handed (as test/ucwa-client.test.ts does) and
// keeps a log of its requests.
export class Client {
  origin = ''
  bearer = ''
  readonly log: Sent[] = []
  constructor (private readonly lab: LessonTarget) {}

  async call (href: string, o: { method?: string, body?: unknown, form?: string } = {}): Promise<{ status: number, json: Json, headers: Headers }> {
    const url = new URL(href, this.origin === '' ? undefined : this.origin)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.bearer !== '') headers.authorization = `Bearer ${this.bearer}`
    let body: string | undefined
    if (o.form !== undefined) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = o.form }
    if (o.body !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(o.body) }
    const r = await this.lab.fetch(url, { method: o.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) })
    const text = await r.text()
    this.log.push({ method: o.method ?? 'GET', host: url.host, path: url.pathname + url.search, status: r.status })
    let json: Json = {}
    try { json = text === '' ? {} : JSON.parse(text) as Json } catch { /* a page, not JSON */ }
    return { status: r.status, json, headers: r.headers }
  }

  // Autodiscovery to the home pool, bounded: root → user (401) → token → user, and again where the
  // user resource names another root.
  async signIn (start: string, grant: string, application: object): Promise<Json> {
    let root = await this.call(start)
    for (let hop = 0; hop < 6; hop++) {
      const links = root.json._links ?? {}
      if (links.user === undefined && links.redirect !== undefined) { root = await this.call(links.redirect.href); continue }
      const userHref = links.user!.href
      this.origin = new URL(userHref).origin
      this.bearer = ''
      const challenge = await this.call(userHref)
      const tokenUrl = /MsRtcOAuth href="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1]
      if (tokenUrl === undefined) throw new Error(`no MsRtcOAuth challenge: ${challenge.status}`)
      const token = await this.call(tokenUrl, { method: 'POST', form: grant })
      if (token.status !== 200) throw new Error(`token: ${token.status}`)
      this.bearer = String(token.json.access_token)
      const user = await this.call(userHref)
      if (user.json._links?.redirect !== undefined) { root = await this.call(user.json._links.redirect.href); continue }
      const created = await this.call(user.json._links!.applications!.href, { method: 'POST', body: application })
      if (created.status !== 201) throw new Error(`applications: ${created.status}`)
      return created.json
    }
    throw new Error('still redirected after six hops')
  }
}

// One NTLM handshake on one keep-alive connection, as a desktop client fetches the address book:
// anonymous → 401 offering NTLM, type 1 → 401 with the challenge, type 3 → 200.
export async function ntlmDownload (lab: LessonTarget, log: Sent[]): Promise<void> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: lab.ca })
  const target = '/abs/handler/'
  const get = (authorization?: string): Promise<http.IncomingMessage> => new Promise((resolve, reject) => {
    https.get({ host: lab.https!.address, port: lab.https!.port, servername: 'webext.contoso.com', agent, path: target, headers: { host: 'webext.contoso.com', ...(authorization === undefined ? {} : { authorization }) } }, (res) => {
      res.resume()
      res.on('end', () => { log.push({ method: 'GET', host: 'webext.contoso.com', path: target, status: res.statusCode ?? 0 }); resolve(res) })
    }).on('error', reject)
  })
  try {
    const anonymous = await get()
    if (anonymous.statusCode !== 401) throw new Error(`anonymous: ${anonymous.statusCode}`)
    const first = await get(`NTLM ${negotiateMessage().toString('base64')}`)
    const line = ([] as string[]).concat(first.headers['www-authenticate'] ?? []).flatMap((v) => v.split(/,\s*(?=NTLM )/)).find((v) => v.startsWith('NTLM '))
    if (line === undefined) throw new Error(`no NTLM challenge: ${String(first.headers['www-authenticate'])}`)
    const challenge = decodeChallenge(Buffer.from(line.slice(5), 'base64'))
    if (challenge === undefined) throw new Error(`not an NTLM challenge: ${line}`)
    const done = await get(`NTLM ${authenticateMessage(challenge, ntlmIdentity('CONTOSO\\user1'), 'Pass@word1').toString('base64')}`)
    if (done.statusCode !== 200) throw new Error(`type 3: ${done.statusCode}`)
  } finally {
    agent.destroy()
  }
}

export function unpublished (lab: LessonTarget, host: string, log: Sent[]): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host: lab.http!.address, port: lab.http!.port, path: '/', headers: { host } }, (res) => {
      res.resume().on('end', () => { log.push({ method: 'GET', host, path: '/', status: res.statusCode ?? 0 }); resolve() })
    }).on('error', reject)
  })
}

export interface LessonLogs { mobile: Sent[], ntlm: Sent[], guest: Sent[], refused: Sent[] }

function expect (what: string, status: number, wanted: number): void {
  if (status !== wanted) throw new Error(`${what}: ${status}, not ${wanted}`)
}

// The lesson, in order; a step that does not get the answer a pool gives throws, naming it.
export async function runLesson (lab: LessonTarget): Promise<LessonLogs> {
  // (a) A mobile client signs in over the HTTP first hop and schedules a meeting anyone may join.
  const mobile = new Client(lab)
  const app = await mobile.signIn(`${lab.httpUrls['lyncdiscover.contoso.com']}/?sipuri=user1@contoso.com`,
    'grant_type=password&username=user1%40contoso.com&password=Pass%40word1',
    { culture: 'en-US', endpointId: 'flow-view-mobile', userAgent: 'flow-view-test/1.0' })
  expect('makeMeAvailable', (await mobile.call(app._embedded!.me!._links!.makeMeAvailable!.href, { method: 'POST', body: { signInAs: 'Online', supportedModalities: ['Messaging'] } })).status, 204)
  // What makeMeAvailable queued is handed over at once.
  expect('the event channel', (await mobile.call(`${app._links!.events!.href}&timeout=180`)).status, 200)
  const scheduled = await mobile.call(app._embedded!.onlineMeetings!._links!.myOnlineMeetings!.href, { method: 'POST', body: { subject: 'flow view lesson', accessLevel: 'Everyone' } })
  expect('scheduling a meeting', scheduled.status, 200)
  const meeting = scheduled.json as Json & { joinUrl: string, onlineMeetingUri: string, onlineMeetingId: string }

  // (b) A desktop client downloads the address book with NTLM.
  const ntlm: Sent[] = []
  await ntlmDownload(lab, ntlm)

  // (c) A guest opens the join link, then signs in anonymously and joins.
  const guest = new Client(lab)
  guest.origin = new URL(meeting.joinUrl).origin
  expect('the meeting page', (await guest.call(meeting.joinUrl, {})).status, 200)
  guest.origin = ''
  const guestApp = await guest.signIn(`${lab.urls['lyncdiscover.contoso.com']}/?sipuri=user1@contoso.com`,
    `grant_type=urn:microsoft.rtc:anonmeeting&ms_rtc_conferenceuri=${encodeURIComponent(meeting.onlineMeetingUri)}&password=${meeting.onlineMeetingId}`,
    { culture: 'en-US', userAgent: 'flow-view-guest/1.0' })
  const join = await guest.call(guestApp._embedded!.communication!._links!.joinOnlineMeeting!.href, { method: 'POST', body: { onlineMeetingUri: meeting.onlineMeetingUri, anonymousDisplayName: 'Visitor' } })
  expect('the guest\'s join', join.status, 201)

  // (d) A name nothing publishes.
  const refused: Sent[] = []
  await unpublished(lab, 'intranet.contoso.com', refused)
  expect('an unpublished name', refused[0]?.status ?? 0, 404)
  return { mobile: mobile.log, ntlm, guest: guest.log, refused }
}
