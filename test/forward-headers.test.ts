// The header policy and the path policy as the upstream sees them: what the recording upstream
// received, byte for byte, after a request crossed the http and the https listener.
import t from 'tap'
import { pool, startTestProxy, testCertificates } from './helpers/proxy.js'
import { startRawUpstream } from './helpers/raw-upstream.js'
import { startUpstream, type RecordedRequest } from './helpers/upstream.js'
import { headerValues, parseResponseHead, wireExchange, type WireResult } from './helpers/wire.js'

// Values of every field named `name` (case-insensitive) in a raw header list, in order.
function fields (raw: string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!)
  return out
}

// The [name, value] pairs whose names are in `names`, names as sent, in order.
function pairs (raw: string[], names: string[]): string[][] {
  const out: string[][] = []
  for (let i = 0; i < raw.length; i += 2) if (names.includes(raw[i]!.toLowerCase())) out.push([raw[i]!, raw[i + 1]!])
  return out
}

// Decodes chunked framing from the start of `bytes`; null unless it ends with a proper last chunk.
function dechunk (bytes: string): string | null {
  let out = ''
  let at = 0
  for (;;) {
    const eol = bytes.indexOf('\r\n', at)
    if (eol < 0) return null
    const size = parseInt(bytes.slice(at, eol), 16)
    if (Number.isNaN(size)) return null
    if (size === 0) return bytes.startsWith('\r\n', eol + 2) ? out : null
    out += bytes.slice(eol + 2, eol + 2 + size)
    if (!bytes.startsWith('\r\n', eol + 2 + size)) return null
    at = eol + 4 + size
  }
}

const OWAS_TARGET = '/m/Presenter.aspx?a=0&e=true&WopiSrc=https%3A%2F%2Ffe1.contoso.net%2FDataCollabWeb%2Fwopi%2Ffiles%2F9-1-ABC&access_token=x%252Fy'
const NTLM_TYPE1 = 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=='

t.test('request headers through both listeners', async (t) => {
  const certs = await testCertificates()
  const plain = await startUpstream()
  const secure = await startUpstream(undefined, certs.internal.get('fe'))
  const p = await startTestProxy({
    pools: { fe: pool(plain.port, { httpsPort: secure.port }) },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com', 'officewebapps01.contoso.com'], action: 'forward', pool: 'fe' }],
  })
  t.teardown(async () => { await p.close(); await plain.close(); await secure.close() })

  const listeners = [
    { proto: 'http', port: p.httpPort, upstream: plain, tls: undefined, lie: 'https' },
    { proto: 'https', port: p.httpsPort, upstream: secure, tls: { ca: certs.caPem, servername: 'webext.contoso.com' }, lie: 'http' },
  ] as const
  let ourVia = ''

  for (const l of listeners) {
    const send = (bytes: string): Promise<WireResult> => wireExchange(l.port, bytes, { tls: l.tls })
    const last = (): RecordedRequest => l.upstream.requests.at(-1)!

    await t.test(`${l.proto} listener: forwarding fields are the proxy's own`, async (t) => {
      const before = l.upstream.requests.length
      const r = await send(
        'GET /ucwa/oauth/v1/applications HTTP/1.1\r\n' +
        'Host: WebExt.Contoso.com\r\n' +
        'X-Forwarded-For: 6.6.6.6\r\n' +
        `X-Forwarded-Proto: ${l.lie}\r\n` +
        'X-Forwarded-Host: evil.example.org\r\n' +
        'X-Forwarded-Port: 1234\r\n' +
        `Forwarded: for=6.6.6.6;proto=${l.lie};host=evil.example.org\r\n` +
        'X-Real-IP: 6.6.6.6\r\n' +
        'Via: 1.0 fred\r\n' +
        'Connection: close\r\n\r\n')
      t.equal(parseResponseHead(r.bytes).status, 200)
      t.equal(l.upstream.requests.length, before + 1, 'forwarded once')
      const raw = last().rawHeaders
      t.same(fields(raw, 'host'), ['WebExt.Contoso.com'], 'Host forwarded unchanged, case and all')
      t.same(fields(raw, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For replaced by the client address')
      t.same(fields(raw, 'x-forwarded-proto'), [l.proto], 'X-Forwarded-Proto from the listener, not the client')
      t.same(fields(raw, 'x-forwarded-host'), ['WebExt.Contoso.com'], 'X-Forwarded-Host replaced by the Host')
      t.same(fields(raw, 'forwarded'), [`for=127.0.0.1;proto=${l.proto};host=WebExt.Contoso.com`], 'Forwarded replaced')
      t.same(fields(raw, 'x-real-ip'), [], 'X-Real-IP dropped')
      t.same(fields(raw, 'x-forwarded-port'), [], 'X-Forwarded-Port dropped')
      const via = fields(raw, 'via')
      t.equal(via.length, 1, 'one Via field')
      t.match(via[0], /^1\.0 fred, 1\.1 lyncproxy-[0-9a-f]{6}(\.[A-Za-z0-9-]+)?$/, 'our Via appended to the client Via')
      ourVia = via[0]!.slice('1.0 fred, 1.1 '.length)
      t.notMatch(l.upstream.rawBytes(), /6\.6\.6\.6|evil\.example\.org/, 'nothing the client claimed reached the wire')
    })

    await t.test(`${l.proto} listener: hop-by-hop fields stay on the client hop`, async (t) => {
      const before = l.upstream.requests.length
      const r = await send(
        'GET /abs/x HTTP/1.1\r\n' +
        'Host: webext.contoso.com\r\n' +
        'Connection: X-Auth-Bypass, close\r\n' +
        'X-Auth-Bypass: 1\r\n' +
        'Keep-Alive: timeout=5, max=1000\r\n' +
        'TE: trailers\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Proxy-Authorization: Basic YWRtaW46YWRtaW4=\r\n' +
        'Upgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n' +
        'X-Kept: yes\r\n\r\n')
      t.equal(parseResponseHead(r.bytes).status, 200, 'an Upgrade that Connection does not name is an ordinary request')
      t.equal(l.upstream.requests.length, before + 1)
      const raw = last().rawHeaders
      for (const name of ['x-auth-bypass', 'keep-alive', 'te', 'proxy-connection', 'proxy-authorization', 'upgrade']) {
        t.same(fields(raw, name), [], `${name} not forwarded`)
      }
      t.notMatch(fields(raw, 'connection').join(','), /x-auth-bypass|close/i, 'the client Connection tokens not forwarded')
      t.same(fields(raw, 'x-kept'), ['yes'], 'an ordinary field survives')
      const wire = l.upstream.rawBytes()
      t.notMatch(wire, /x-auth-bypass|proxy-authorization|YWRtaW46YWRtaW4=|h2c/i, 'not on the wire at all')
    })

    await t.test(`${l.proto} listener: end-to-end fields untouched, case and order kept`, async (t) => {
      const sent = [
        ['Authorization', NTLM_TYPE1],
        ['X-MS-WebTicket', 'opaque=2.0-AAEBHAEFAAAAAAAFFQAAAA'],
        ['cookie', 'MRHSession=abc; LastMRH_Session=def'],
        ['X-Ms-diagnostics', '28020;source="fe01.contoso.net";reason="Invalid Session"'],
        ['Cookie', 'second=2'],
      ]
      const r = await send(
        'GET /Autodiscover/AutodiscoverService.svc/root/oauth/user HTTP/1.1\r\n' +
        'Host: webext.contoso.com\r\n' +
        sent.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
        'Connection: close\r\n\r\n')
      t.equal(parseResponseHead(r.bytes).status, 200)
      const names = ['authorization', 'x-ms-webticket', 'cookie', 'x-ms-diagnostics']
      t.same(pairs(last().rawHeaders, names), sent, 'same names, values, case and order')
      const wire = l.upstream.rawBytes()
      t.ok(wire.includes(sent.map(([n, v]) => `${n}: ${v}\r\n`).join('')), 'the five lines arrive contiguous and byte-exact')
    })

    await t.test(`${l.proto} listener: refused before anything is forwarded`, async (t) => {
      const before = l.upstream.requests.length
      let r = await send('GET /ucwa HTTP/1.1\r\nHost: webext.contoso.com\r\nX_Forwarded_User: admin\r\nConnection: close\r\n\r\n')
      let head = parseResponseHead(r.bytes)
      t.equal(head.status, 400, 'a header name with "_" is refused')
      t.same(headerValues(head.lines, 'x-lyncproxy-error'), ['bad_header'])
      r = await send(`GET /ucwa HTTP/1.1\r\nHost: webext.contoso.com\r\nVia: 1.1 ${ourVia}\r\nConnection: close\r\n\r\n`)
      head = parseResponseHead(r.bytes)
      t.equal(head.status, 508, 'a request carrying our own Via is a loop')
      t.same(headerValues(head.lines, 'x-lyncproxy-error'), ['loop_detected'])
      r = await send(`GET /ucwa HTTP/1.1\r\nHost: webext.contoso.com\r\nVia: 1.0 a\r\nVia: 1.1 edge, 1.1 ${ourVia}\r\nConnection: close\r\n\r\n`)
      t.equal(parseResponseHead(r.bytes).status, 508, 'our Via anywhere in several Via fields is a loop')
      t.equal(l.upstream.requests.length, before, 'nothing reached the upstream')
      t.notMatch(l.upstream.rawBytes(), /X_Forwarded_User/i)
    })
  }

  await t.test('body framing is the proxy\'s own', async (t) => {
    const up = plain
    let before = up.requests.length
    let r = await wireExchange(p.httpPort, 'POST /ucwa/x HTTP/1.1\r\nHost: webext.contoso.com\r\nContent-Length: 010\r\nConnection: close\r\n\r\n0123456789')
    t.equal(parseResponseHead(r.bytes).status, 200)
    t.equal(up.requests.length, before + 1)
    let got = up.requests.at(-1)!
    t.same(fields(got.rawHeaders, 'content-length'), ['10'], 'Content-Length: 010 forwarded as 10')
    t.same(fields(got.rawHeaders, 'transfer-encoding'), [])
    t.equal(got.body.toString(), '0123456789')
    t.match(up.rawBytes(), /\r\ncontent-length: 10\r\n/i)
    t.notMatch(up.rawBytes(), /Content-Length: 010/)

    before = up.requests.length
    r = await wireExchange(p.httpPort,
      'POST /ucwa/y HTTP/1.1\r\nHost: webext.contoso.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
    t.equal(parseResponseHead(r.bytes).status, 200)
    t.equal(up.requests.length, before + 1)
    got = up.requests.at(-1)!
    t.same(fields(got.rawHeaders, 'transfer-encoding'), ['chunked'], 'exactly one Transfer-Encoding: chunked')
    t.same(fields(got.rawHeaders, 'content-length'), [], 'and no Content-Length beside it')
    t.equal(got.body.toString(), 'hello world', 'the same body bytes')
    const wire = up.rawBytes()
    const start = wire.lastIndexOf('POST /ucwa/y')
    const headEnd = wire.indexOf('\r\n\r\n', start) + 4
    t.equal(wire.slice(start, headEnd).match(/\r\ntransfer-encoding:/gi)?.length, 1, 'one framing header on the wire')
    t.equal(dechunk(wire.slice(headEnd)), 'hello world', 'the wire body is valid chunked framing, terminated, same bytes')
  })

  await t.test('the request target', async (t) => {
    const up = plain
    const send = (target: string, host = 'webext.contoso.com'): Promise<WireResult> =>
      wireExchange(p.httpPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)

    let r = await send(OWAS_TARGET, 'officewebapps01.contoso.com')
    t.equal(parseResponseHead(r.bytes).status, 200)
    t.equal(up.requests.at(-1)?.url, OWAS_TARGET, 'a double-encoded OWAS query arrives byte-exact')
    t.ok(up.rawBytes().includes(`GET ${OWAS_TARGET} HTTP/1.1\r\n`), 'on the wire too')

    const normalized: Array<[string, string]> = [
      ['/a/./b/../c', '/a/c'],
      ['//x', '/x'],
      ['/a//b///c', '/a/b/c'],
      ['/%7Euser/%7e', '/~user/~'],
      ['/a/%2e%2E/b', '/b'],
      ['/a/./b?q=%2F..%2F&r=/./', '/a/b?q=%2F..%2F&r=/./'],
    ]
    for (const [sent, expected] of normalized) {
      r = await send(sent)
      t.equal(parseResponseHead(r.bytes).status, 200, `${sent} accepted`)
      t.equal(up.requests.at(-1)?.url, expected, `${sent} forwarded as ${expected}`)
    }

    const before = up.requests.length
    const refused = ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a\\b', '/a%00b', '/..', '/a/../../b', '/%2e%2e/x', '/%C0%AF', '/a%c0%afb', '/%E0%80%AF']
    for (const sent of refused) {
      r = await send(sent)
      t.equal(parseResponseHead(r.bytes).status, 400, `${sent} refused with 400`)
    }
    t.equal(up.requests.length, before, 'no refused target was forwarded')
    t.notMatch(up.rawBytes(), /%5C|%00|%C0|%E0|\\|GET \/a%2Fb|GET \/\.\./i, 'none of them on the wire')
  })
})

t.test('response headers', async (t) => {
  const body = 'hello'
  const up = await startRawUpstream((socket) => {
    socket.write(
      'HTTP/1.1 401 Unauthorized\r\n' +
      'Content-Type: text/html\r\n' +
      'Connection: X-Secret-Hop, keep-alive\r\n' +
      'X-Secret-Hop: internal-only\r\n' +
      'Keep-Alive: timeout=99\r\n' +
      'Upgrade: h2c\r\n' +
      'Proxy-Authenticate: Basic realm="fe"\r\n' +
      'WWW-Authenticate: NTLM\r\n' +
      'WWW-Authenticate: Negotiate\r\n' +
      'Set-Cookie: a=1; Path=/\r\n' +
      'X-MS-diagnostics: 28032;source="fe01.contoso.net";reason="The user is not authorized"\r\n' +
      'Set-Cookie: b=2; Path=/; HttpOnly\r\n' +
      'X-MS-Server-Fqdn: fe01.contoso.net\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n' +
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)
  })
  const p = await startTestProxy({
    pools: { fe: pool(up.port) },
    rules: [{ name: 'webext', publicNames: ['webext.contoso.com'], action: 'forward', pool: 'fe', listeners: ['external-http'] }],
  })
  t.teardown(async () => { await p.close(); await up.close() })
  const r = await wireExchange(p.httpPort, 'GET /ucwa HTTP/1.1\r\nHost: webext.contoso.com\r\nConnection: close\r\n\r\n')
  const head = parseResponseHead(r.bytes)
  t.equal(head.status, 401)
  t.equal(up.heads.length, 1)
  t.same(headerValues(head.lines, 'www-authenticate'), ['NTLM', 'Negotiate'], 'two WWW-Authenticate lines, in order, not joined')
  t.same(headerValues(head.lines, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/; HttpOnly'], 'two Set-Cookie lines, not joined')
  t.ok(head.lines.includes('X-MS-diagnostics: 28032;source="fe01.contoso.net";reason="The user is not authorized"'), 'X-MS-diagnostics untouched')
  t.ok(head.lines.includes('X-MS-Server-Fqdn: fe01.contoso.net'), 'X-MS-Server-Fqdn untouched')
  t.same(headerValues(head.lines, 'x-secret-hop'), [], 'a field the upstream Connection names is dropped')
  t.same(headerValues(head.lines, 'keep-alive'), [], 'the upstream Keep-Alive is dropped')
  t.same(headerValues(head.lines, 'upgrade'), [], 'Upgrade is dropped from an ordinary response')
  t.same(headerValues(head.lines, 'proxy-authenticate'), [], 'Proxy-Authenticate is dropped')
  t.same(headerValues(head.lines, 'connection'), ['close'], 'Connection is the proxy\'s own, for the client hop')
  t.same(headerValues(head.lines, 'transfer-encoding'), ['chunked'], 'one framing header, the proxy\'s own')
  t.notMatch(r.bytes, /internal-only|timeout=99|X-Secret-Hop/i)
  t.equal(head.body, `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, 'the body re-framed intact')

  // An HTTP/1.0 client cannot read chunked framing: what it gets shows that the upstream's
  // Transfer-Encoding was not copied and the proxy chose the framing for this hop.
  const old = await wireExchange(p.httpPort, 'GET /ucwa HTTP/1.0\r\nHost: webext.contoso.com\r\n\r\n')
  const oldHead = parseResponseHead(old.bytes)
  t.equal(oldHead.status, 401)
  t.same(headerValues(oldHead.lines, 'transfer-encoding'), [], 'no Transfer-Encoding to an HTTP/1.0 client')
  t.equal(oldHead.body, body, 'the body, delimited by the connection close')
  t.equal(up.heads.length, 2)
})
