// UCWA's batch resource: the multipart/batching reader by example (the reference's two sample
// shapes) and by property, then a Front End stand-in over real TLS answering a batch part by part.
import t from 'tap'
import fc from 'fast-check'
import { Agent, request } from 'undici'
import { batchBoundary, parseBatch, type BatchPart } from '../src/lab/standin/ucwa/batch-mime.js'
import { startStandIn, type RunningStandIn } from '../src/lab/standin/index.js'
import { throwawayCert } from './helpers/throwaway-cert.js'

const REQUEST_TYPE = 'Content-Type: application/http; msgtype=request'

function serialize (parts: BatchPart[], boundary: string, eol: string): Buffer {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const head = [`--${boundary}`, REQUEST_TYPE, '', `${p.method} ${p.path} HTTP/1.1`, ...p.headers.map(([n, v]) => `${n}: ${v}`), '', ''].join(eol)
    chunks.push(Buffer.from(head, 'latin1'), p.body, Buffer.from(eol))
  }
  chunks.push(Buffer.from(`--${boundary}--${eol}`))
  return Buffer.concat(chunks)
}

t.test('the boundary, and the two shapes the reference shows', async (t) => {
  t.equal(batchBoundary('multipart/batching;boundary=77f2569d-c005'), '77f2569d-c005')
  t.equal(batchBoundary('Multipart/Batching; boundary="EA370946"'), 'EA370946')
  for (const bad of [undefined, 'application/json', 'multipart/batching', 'multipart/mixed; boundary=x', `multipart/batching; boundary=${'x'.repeat(71)}`]) {
    t.equal(batchBoundary(bad), undefined, String(bad))
  }
  // BatchingRequests.md: CRLF, no Content-Length in the parts.
  const crlf = '--b1\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET /ucwa/oauth/v1/applications/103/people/contacts HTTP/1.1\r\nHost: lyncweb.contoso.com\r\nAccept: application/json\r\n\r\n--b1\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET /ucwa/oauth/v1/applications/103/me HTTP/1.1\r\nHost: lyncweb.contoso.com\r\nAccept: application/json\r\n\r\n--b1--\r\n'
  t.same(parseBatch(Buffer.from(crlf), 'b1'), [
    { method: 'GET', path: '/ucwa/oauth/v1/applications/103/people/contacts', headers: [['Host', 'lyncweb.contoso.com'], ['Accept', 'application/json']], body: Buffer.alloc(0) },
    { method: 'GET', path: '/ucwa/oauth/v1/applications/103/me', headers: [['Host', 'lyncweb.contoso.com'], ['Accept', 'application/json']], body: Buffer.alloc(0) },
  ])
  // batch_ref.md's JSON sample: a space before each colon, LF, a part Content-Length.
  const lf = '--EA370946\nContent-Type : application/http;msgtype=request\nContent-Length : 200\n\nPOST /ucwa/v1/applications/1/me/note HTTP/1.1\nContent-Type : application/json\n\n{"message":"two\nlines"}\n--EA370946--'
  t.same(parseBatch(Buffer.from(lf), 'EA370946'), [{ method: 'POST', path: '/ucwa/v1/applications/1/me/note', headers: [['Content-Type', 'application/json']], body: Buffer.from('{"message":"two\nlines"}') }])
  t.match(parseBatch(Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--'), 'b'), /^part 1: Content-Type is "text\/plain"/)
  t.match(parseBatch(Buffer.from('--b\r\n' + REQUEST_TYPE + '\r\n\r\nGET me\r\n--b--'), 'b'), /^part 1: the request line "GET me"/)
  t.match(parseBatch(Buffer.from('--b\r\n' + REQUEST_TYPE + '\r\n\r\nGET /x HTTP/1.1\r\n'), 'b'), /does not end with the delimiter --b--/)
})

t.test('by property: what is written is read back, byte for byte; any input gives parts or a reason', async () => {
  const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/)
  const part = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    path: fc.stringMatching(/^\/ucwa\/[A-Za-z0-9/._~%?=&-]{0,40}$/),
    headers: fc.array(fc.tuple(token, fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/)), { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  })
  const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/)
  fc.assert(fc.property(fc.array(part, { maxLength: 5 }), boundary, fc.constantFrom('\r\n', '\n'), (parts, b, eol) => {
    // A body that holds the delimiter itself, or ends with a line break, cannot be told apart by any reader.
    fc.pre(parts.every((p) => !p.body.toString('latin1').includes(`--${b}`) && !/[\r\n]$/.test(p.body.toString('latin1'))))
    const parsed = parseBatch(serialize(parts, b, eol), b)
    if (typeof parsed === 'string') return false
    return parsed.length === parts.length && parsed.every((q, i) => {
      const p = parts[i]!
      return q.method === p.method && q.path === p.path && JSON.stringify(q.headers) === JSON.stringify(p.headers) && q.body.equals(p.body)
    })
  }))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), boundary, (bytes, b) => {
    const r = parseBatch(Buffer.from(bytes), b)
    return typeof r === 'string' || Array.isArray(r)
  }))
})

t.test('a Front End answers a batch part by part, as each alone', async (t) => {
  const tls = await throwawayCert('pool01.contoso.net')
  const fe: RunningStandIn = await startStandIn({
    member: 'fe01', role: 'frontend', serverFqdn: 'fe01.contoso.net', address: '127.0.0.1', tls,
    sites: [{ kind: 'external', protocol: 'https', port: 0 }],
    topology: {
      sipDomain: 'contoso.com',
      frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
      users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }, { sipUri: 'user2@contoso.com', password: 'Pass@word2' }],
    },
  })
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(async () => { await fe.close(); await agent.close() })
  const call = async (path: string, o: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: Buffer | string } = {}): Promise<{ status: number, headers: Record<string, unknown>, text: string }> => {
    const res = await request(`https://127.0.0.1:${fe.sites[0]!.port}${path}`, { method: o.method ?? 'GET', headers: { host: 'webext.contoso.com', ...o.headers }, body: o.body, dispatcher: agent })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
  const tokenOf = async (user: string, password: string): Promise<string> =>
    JSON.parse((await call('/WebTicket/oauthtoken', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', username: user, password }).toString() })).text).access_token as string
  const auth = { authorization: `Bearer ${await tokenOf('user1@contoso.com', 'Pass@word1')}` }
  const newApp = async (headers: Record<string, string>, endpoint: string): Promise<string> =>
    `/ucwa/oauth/v1/applications/${JSON.parse((await call('/ucwa/oauth/v1/applications', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: `{"userAgent":"t","endpointId":"${endpoint}","culture":"en-US"}` })).text).id as string}`
  const app = await newApp(auth, 'batch')
  const other = await newApp({ authorization: `Bearer ${await tokenOf('user2@contoso.com', 'Pass@word2')}` }, 'other')
  const part = (method: string, path: string, body = '', type?: string): BatchPart => ({ method, path, headers: [['Accept', 'application/json'], ...(type === undefined ? [] : [['Content-Type', type] as [string, string]])], body: Buffer.from(body) })
  const batch = (parts: BatchPart[]): Promise<{ status: number, headers: Record<string, unknown>, text: string }> =>
    call(`${app}/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/batching;boundary="bb"', accept: 'multipart/batching' }, body: serialize(parts, 'bb', '\r\n') })

  const r = await batch([
    part('GET', `${app}/me`),
    part('POST', `${app}/me/makeMeAvailable`, '{"supportedModalities":["Messaging"]}', 'application/json'),
    part('GET', `${app}/me/presence`),
    part('GET', `${app}/people/contacts`),
    part('GET', `${app}/nothing-here`),
    part('GET', `${other}/me`),
    part('GET', `${app}/events?ack=1`),
    part('GET', `${app}/events/?ack=1`),
    part('GET', `${app}/ev%65nts?ack=1`),
    part('POST', `${app}/batch/`),
    part('GET', `${app}/../${other.split('/').pop()!}/me`),
    part('GET', app),
  ])
  t.equal(r.status, 200)
  const m = /^multipart\/batching; boundary="([^"]+)"$/.exec(String(r.headers['content-type']))
  t.ok(m, `multipart/batching with a boundary: ${String(r.headers['content-type'])}`)
  const splitOnce = (text: string, at: string): [string, string] => {
    const i = text.indexOf(at)
    return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + at.length)]
  }
  const answers = r.text.split(`--${m![1]!}`).slice(1, -1).map((chunk) => {
    const [mime, http] = splitOnce(chunk.replace(/^\r\n/, ''), '\r\n\r\n')
    const [head, body] = splitOnce(http, '\r\n\r\n')
    return { mime, status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]), head, body: body.replace(/\r\n$/, '') }
  })
  t.same(r.text.endsWith(`--${m![1]!}--\r\n`), true, 'closed by the final delimiter')
  t.same(answers.map((a) => a.mime), Array(12).fill('Content-Type: application/http; msgtype=response'))
  t.same(answers.map((a) => a.status), [200, 204, 200, 200, 404, 400, 400, 400, 400, 400, 400, 200], 'one answer per part, in order')
  t.match(JSON.parse(answers[0]!.body), { _links: { makeMeAvailable: {} } }, 'me as it was before the second part')
  t.match(JSON.parse(answers[2]!.body), { availability: 'Online' }, 'the third part sees what the second did')
  t.match(answers[2]!.head, /\r\nContent-Type: application\/json; charset=utf-8(\r\n|$)/)
  t.match(JSON.parse(answers[3]!.body), { _embedded: { contact: [{ uri: 'sip:user2@contoso.com' }] } })
  t.match(JSON.parse(answers[4]!.body), { code: 'NotFound' })
  t.match(JSON.parse(answers[5]!.body), { code: 'BadRequest', message: /its own application only/ })
  for (const i of [6, 7, 8, 9]) t.match(JSON.parse(answers[i]!.body), { code: 'BadRequest', message: /batch, photo or events/ }, `part ${i + 1}: as the router would read its path`)
  t.match(JSON.parse(answers[10]!.body), { message: /its own application only/ }, 'a dot segment does not lead out of the application')
  t.match(JSON.parse(answers[11]!.body), { rel: 'application' }, 'the application itself')
  t.equal(fe.heldEventTimeouts().length, 0, 'no event channel was held by the batch')
  const zipped = await call(`${app}/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/batching; boundary=z', 'accept-encoding': 'gzip' }, body: serialize([part('GET', `${app}/me`)], 'z', '\r\n') })
  t.equal(zipped.headers['content-encoding'], 'gzip', 'the batch answer is compressed whole when asked')
  t.equal(zipped.headers.vary, 'Accept-Encoding')
  const events = JSON.parse((await call(`${app}/events?ack=1`, { headers: auth })).text) as { sender: Array<{ rel: string }> }
  t.same(events.sender.map((s) => s.rel), ['communication', 'me'], 'makeMeAvailable in the batch raised its events')

  // More than 100: 429, and none of them ran.
  const second = await newApp(auth, 'too-many')
  const many = Array.from({ length: 101 }, () => part('POST', `${second}/me/makeMeAvailable`, '{}', 'application/json'))
  const refused = await call(`${second}/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/batching; boundary=x' }, body: serialize(many, 'x', '\r\n') })
  t.equal(refused.status, 429)
  t.match(JSON.parse(refused.text), { code: 'TooManyRequests' })
  t.equal((await call(`${second}/me/presence`, { headers: auth })).status, 409, 'still not available: nothing ran')

  t.equal((await call(`${app}/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status, 415)
  const garbled = await call(`${app}/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/batching; boundary=x' }, body: '--x\r\nnonsense' })
  t.equal(garbled.status, 400)
  t.match(JSON.parse(garbled.text), { code: 'BadRequest', subcode: 'DeserializationFailure' })
  t.equal((await call(`${app}/batch`, { method: 'POST', headers: { 'content-type': 'multipart/batching; boundary=x' }, body: '--x--' })).status, 401, 'no ticket, no batch')
})
