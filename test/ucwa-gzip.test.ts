// UCWA answers gzip-compressed when the client's Accept-Encoding allows it, as IIS's dynamic
// compression does, and as they are otherwise: the field's parser by example and by property, then
// the bytes a Front End stand-in sends over real TLS.
import t from 'tap'
import fc from 'fast-check'
import { gunzipSync } from 'node:zlib'
import { Agent, request } from 'undici'
import { acceptsGzip } from '../src/lab/standin/ucwa/accept-encoding.js'
import { startStandIn, type RunningStandIn } from '../src/lab/standin/index.js'
import { throwawayCert } from './helpers/throwaway-cert.js'

t.test('Accept-Encoding, by example', async (t) => {
  const cases: Array<[string | string[] | undefined, boolean]> = [
    [undefined, false], ['', false], ['identity', false], ['br, deflate', false],
    ['gzip', true], ['GZip', true], ['x-gzip', true], ['gzip, deflate, br', true], ['br;q=1, gzip;q=0.5', true],
    ['gzip;q=0', false], ['gzip; q=0.000', false], ['*', true], ['*;q=0', false], ['gzip;q=0, *', false],
    ['*, gzip;q=0', false], ['gzip;q=0.001', true], ['gzip;q=1.0', true], ['gzip;q=2', false], ['gzip;q=abc', false],
    [['br', 'gzip'], true], ['deflate,,gzip', true],
  ]
  for (const [field, expected] of cases) t.equal(acceptsGzip(field), expected, JSON.stringify(field))
})

t.test('Accept-Encoding, by property: the weight of gzip, else of *, decides; anything parses', async () => {
  const weight = fc.option(fc.constantFrom('0', '0.0', '0.5', '0.001', '1', '1.000'), { nil: undefined })
  const item = fc.record({ coding: fc.constantFrom('gzip', 'x-gzip', 'GZIP', '*', 'br', 'identity', 'deflate'), q: weight, space: fc.boolean() })
  fc.assert(fc.property(fc.array(item, { maxLength: 6 }), (items) => {
    const field = items.map((i) => `${i.coding}${i.q === undefined ? '' : `${i.space ? ' ; ' : ';'}q=${i.q}`}`).join(', ')
    const w = (i: { q: string | undefined }): number => i.q === undefined ? 1 : Number(i.q)
    const gzip = items.filter((i) => ['gzip', 'x-gzip'].includes(i.coding.toLowerCase()))
    const star = items.filter((i) => i.coding === '*')
    const model = gzip.length > 0 ? Math.max(...gzip.map(w)) > 0 : star.length > 0 && Math.max(...star.map(w)) > 0
    return acceptsGzip(field) === model
  }))
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (field) => typeof acceptsGzip(field) === 'boolean'))
})

t.test('a Front End answers UCWA in gzip when asked, with Vary either way', async (t) => {
  const tls = await throwawayCert('pool01.contoso.net')
  const fe: RunningStandIn = await startStandIn({
    member: 'fe01', role: 'frontend', serverFqdn: 'fe01.contoso.net', address: '127.0.0.1', tls,
    sites: [{ kind: 'external', protocol: 'https', port: 0 }],
    topology: { sipDomain: 'contoso.com', frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' }, users: [{ sipUri: 'user1@contoso.com', password: 'Pass@word1' }] },
  })
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(async () => { await fe.close(); await agent.close() })
  const call = async (path: string, headers: Record<string, string>, body?: string): Promise<{ status: number, headers: Record<string, unknown>, bytes: Buffer }> => {
    const res = await request(`https://127.0.0.1:${fe.sites[0]!.port}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { host: 'webext.contoso.com', ...headers }, body, dispatcher: agent })
    return { status: res.statusCode, headers: res.headers, bytes: Buffer.from(await res.body.arrayBuffer()) }
  }
  const tokenReply = await call('/WebTicket/oauthtoken', { 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=password&username=user1%40contoso.com&password=Pass%40word1')
  const auth = { authorization: `Bearer ${JSON.parse(tokenReply.bytes.toString()).access_token as string}`, 'content-type': 'application/json' }
  const body = '{"userAgent":"t","endpointId":"gz","culture":"en-US"}'

  const packed = await call('/ucwa/oauth/v1/applications', { ...auth, 'accept-encoding': 'gzip, deflate' }, body)
  t.equal(packed.status, 201)
  t.equal(packed.headers['content-encoding'], 'gzip')
  t.equal(packed.headers.vary, 'Accept, Accept-Encoding')
  t.same(packed.bytes.subarray(0, 2), Buffer.from([0x1f, 0x8b]), 'gzip bytes on the wire')
  const app = JSON.parse(gunzipSync(packed.bytes).toString('utf8')) as { id: string }
  t.match(app, { id: /^[0-9a-f]{16}$/, endpointId: 'gz' })
  t.equal(Number(packed.headers['content-length']), packed.bytes.length, 'the length is the compressed one')

  for (const ae of [undefined, 'gzip;q=0', 'br']) {
    const plain = await call(`/ucwa/oauth/v1/applications/${app.id}`, { ...auth, ...(ae === undefined ? {} : { 'accept-encoding': ae }) })
    t.equal(plain.headers['content-encoding'], undefined, `Accept-Encoding ${ae ?? 'absent'}: identity`)
    t.equal(plain.headers.vary, 'Accept, Accept-Encoding')
    t.match(JSON.parse(plain.bytes.toString('utf8')), { id: app.id })
  }
  const error = await call('/ucwa/oauth/v1/applications/0000000000000000', { ...auth, 'accept-encoding': 'gzip' })
  t.equal(error.status, 404)
  t.match(JSON.parse(gunzipSync(error.bytes).toString('utf8')), { code: 'NotFound', subcode: 'ApplicationNotFound' }, 'error bodies too')
})
