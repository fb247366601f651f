// A stand-in for an IIS site with Windows authentication, strict about the one thing the proxy must
// get right: NTLM authenticates a TCP connection. The type-1 and type-3 messages must arrive on the
// same upstream connection, and once a connection is authenticated, later requests on it need no
// Authorization (as IIS does with authPersistNonNTLM). Passwords are not verified.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { AvId, decodeAuthenticate, encodeAuthenticate, encodeChallenge, encodeNegotiate, encodeTargetInfo, ntlmMessageType, NtlmFlags } from '../../src/ntlm/messages.js'

const TYPE1_FLAGS = NtlmFlags.UNICODE | NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.EXTENDED_SESSIONSECURITY

// NEGOTIATE (type 1) as Windows sends it: 32 bytes, no domain or workstation supplied.
export function ntlmType1 (flags: number = TYPE1_FLAGS): Buffer {
  return encodeNegotiate(flags)
}

// AUTHENTICATE (type 3): dummy responses and Unicode names.
export function ntlmType3 (domain: string, user: string, workstation = 'CLIENT01'): Buffer {
  return encodeAuthenticate({ flags: NtlmFlags.UNICODE | NtlmFlags.NTLM, lmResponse: Buffer.alloc(24, 1), ntResponse: Buffer.alloc(24, 2), domain, user, workstation })
}

// CHALLENGE (type 2): target name CONTOSO, and a target info block so that a real client (curl)
// computes an NTLMv2 response.
export function ntlmType2 (challenge: Buffer): Buffer {
  const flags = NtlmFlags.UNICODE | NtlmFlags.REQUEST_TARGET | NtlmFlags.NTLM | NtlmFlags.ALWAYS_SIGN | NtlmFlags.TARGET_TYPE_DOMAIN |
    NtlmFlags.EXTENDED_SESSIONSECURITY | NtlmFlags.TARGET_INFO
  const targetInfo = encodeTargetInfo([{ id: AvId.NB_DOMAIN, value: Buffer.from('CONTOSO', 'utf16le') }])
  return encodeChallenge({ flags, targetName: 'CONTOSO', serverChallenge: challenge, targetInfo })
}

// What the stand-in made of a request: which stage of the handshake it was and on which connection.
export type Stage = 'anonymous' | 'type1' | 'type3' | 'type3-wrong-connection' | 'authenticated' | 'bad-token'

export interface NtlmRecord {
  connection: number
  // The X-Client header the test put on the request, to tell simulated clients apart.
  client: string
  stage: Stage
  status: number
  url: string
  user?: string
}

export interface NtlmUpstream {
  port: number
  records: NtlmRecord[]
  // Ids of the upstream connections that have closed.
  closed: Set<number>
  connections: () => number
  close: () => Promise<void>
}

interface ConnectionState {
  id: number
  challenge?: Buffer
  user?: string
}

const kState = Symbol('ntlmConnection')
type StatefulSocket = Socket & { [kState]?: ConnectionState }

export async function startNtlmUpstream (tls?: { cert: string, key: string }): Promise<NtlmUpstream> {
  const records: NtlmRecord[] = []
  const closed = new Set<number>()
  let connections = 0
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const conn = (req.socket as StatefulSocket)[kState]!
    const client = String(req.headers['x-client'] ?? '')
    const record = (stage: Stage, status: number): NtlmRecord => {
      const r: NtlmRecord = { connection: conn.id, client, stage, status, url: req.url ?? '' }
      if (conn.user !== undefined) r.user = conn.user
      records.push(r)
      return r
    }
    const challengeAll = (stage: Stage): void => {
      record(stage, 401)
      // Two separate fields, as IIS sends them.
      res.writeHead(401, [['WWW-Authenticate', 'NTLM'], ['WWW-Authenticate', 'Negotiate'], ['Content-Type', 'text/plain'], ['Content-Length', '13']])
      res.end('401 anonymous')
    }
    req.resume()
    req.on('end', () => {
      const auth = req.headers.authorization
      if (auth === undefined) {
        if (conn.user === undefined) { challengeAll('anonymous'); return }
        record('authenticated', 200)
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ user: conn.user, connection: conn.id }))
        return
      }
      const space = auth.indexOf(' ')
      const scheme = space < 0 ? auth : auth.slice(0, space)
      const token = Buffer.from(space < 0 ? '' : auth.slice(space + 1).trim(), 'base64')
      const type = /^(ntlm|negotiate)$/i.test(scheme) ? ntlmMessageType(token) : undefined
      if (type === 1) {
        conn.challenge = randomBytes(8)
        conn.user = undefined
        record('type1', 401)
        res.writeHead(401, [['WWW-Authenticate', `${scheme} ${ntlmType2(conn.challenge).toString('base64')}`], ['Content-Length', '0']])
        res.end()
        return
      }
      if (type === 3) {
        if (conn.challenge === undefined) { challengeAll('type3-wrong-connection'); return }
        conn.challenge = undefined
        // A type 3 the codec refuses (a field outside the message) names nobody.
        const message = decodeAuthenticate(token, false)
        conn.user = `${message?.domain ?? ''}\\${message?.user ?? ''}`
        record('type3', 200)
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ user: conn.user, connection: conn.id }))
        return
      }
      record('bad-token', 400)
      res.writeHead(400, { 'Content-Length': '0' })
      res.end()
    })
  }
  const server = tls === undefined ? http.createServer({ keepAlive: true }, onRequest) : https.createServer({ cert: tls.cert, key: tls.key, keepAlive: true }, onRequest)
  // IIS keeps an idle connection for 120 s; a test never waits that long.
  server.keepAliveTimeout = 120_000
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: StatefulSocket) => {
    const state: ConnectionState = { id: ++connections }
    socket[kState] = state
    socket.on('close', () => closed.add(state.id))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    records,
    closed,
    connections: () => connections,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
