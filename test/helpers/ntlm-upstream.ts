// A stand-in for an IIS site with Windows authentication, strict about the one thing the proxy must
// get right: NTLM authenticates a TCP connection. The type-1 and type-3 messages must arrive on the
// same upstream connection, and once a connection is authenticated, later requests on it need no
// Authorization (as IIS does with authPersistNonNTLM). Passwords are not verified.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1')

export const NTLM_UNICODE = 0x00000001
export const NTLM_REQUEST_TARGET = 0x00000004
export const NTLM_NTLM = 0x00000200
export const NTLM_ALWAYS_SIGN = 0x00008000
export const NTLM_TARGET_TYPE_DOMAIN = 0x00010000
export const NTLM_EXTENDED_SESSIONSECURITY = 0x00080000
export const NTLM_TARGET_INFO = 0x00800000

// NEGOTIATE (type 1) as Windows sends it: 32 bytes, no domain or workstation supplied.
export function ntlmType1 (flags = NTLM_UNICODE | NTLM_REQUEST_TARGET | NTLM_NTLM | NTLM_EXTENDED_SESSIONSECURITY): Buffer {
  const b = Buffer.alloc(32)
  SIGNATURE.copy(b, 0)
  b.writeUInt32LE(1, 8)
  b.writeUInt32LE(flags >>> 0, 12)
  return b
}

// AUTHENTICATE (type 3): dummy responses and Unicode names after a 64-byte header.
export function ntlmType3 (domain: string, user: string, workstation = 'CLIENT01'): Buffer {
  const fields = [Buffer.alloc(24, 1), Buffer.alloc(24, 2), Buffer.from(domain, 'utf16le'), Buffer.from(user, 'utf16le'), Buffer.from(workstation, 'utf16le'), Buffer.alloc(0)]
  const header = Buffer.alloc(64)
  SIGNATURE.copy(header, 0)
  header.writeUInt32LE(3, 8)
  let offset = 64
  fields.forEach((f, i) => {
    header.writeUInt16LE(f.length, 12 + i * 8)
    header.writeUInt16LE(f.length, 14 + i * 8)
    header.writeUInt32LE(offset, 16 + i * 8)
    offset += f.length
  })
  header.writeUInt32LE((NTLM_UNICODE | NTLM_NTLM) >>> 0, 60)
  return Buffer.concat([header, ...fields])
}

// CHALLENGE (type 2): 48-byte header, target name CONTOSO, and a target info block so that a real
// client (curl) computes an NTLMv2 response.
export function ntlmType2 (challenge: Buffer): Buffer {
  const name = Buffer.from('CONTOSO', 'utf16le')
  const avDomain = Buffer.alloc(4)
  avDomain.writeUInt16LE(2, 0) // MsvAvNbDomainName
  avDomain.writeUInt16LE(name.length, 2)
  const info = Buffer.concat([avDomain, name, Buffer.alloc(4) /* MsvAvEOL */])
  const head = Buffer.alloc(48)
  SIGNATURE.copy(head, 0)
  head.writeUInt32LE(2, 8)
  head.writeUInt16LE(name.length, 12)
  head.writeUInt16LE(name.length, 14)
  head.writeUInt32LE(48, 16)
  const flags = NTLM_UNICODE | NTLM_REQUEST_TARGET | NTLM_NTLM | NTLM_ALWAYS_SIGN | NTLM_TARGET_TYPE_DOMAIN | NTLM_EXTENDED_SESSIONSECURITY | NTLM_TARGET_INFO
  head.writeUInt32LE(flags >>> 0, 20)
  challenge.copy(head, 24)
  head.writeUInt16LE(info.length, 40)
  head.writeUInt16LE(info.length, 42)
  head.writeUInt32LE(48 + name.length, 44)
  return Buffer.concat([head, name, info])
}

function messageType (token: Buffer): number | undefined {
  if (token.length < 12 || !token.subarray(0, 8).equals(SIGNATURE)) return undefined
  return token.readUInt32LE(8)
}

function securityBufferString (msg: Buffer, at: number, unicode: boolean): string {
  if (msg.length < at + 8) return ''
  const len = msg.readUInt16LE(at)
  const offset = msg.readUInt32LE(at + 4)
  if (offset + len > msg.length) return ''
  return msg.subarray(offset, offset + len).toString(unicode ? 'utf16le' : 'latin1')
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
      const type = /^(ntlm|negotiate)$/i.test(scheme) ? messageType(token) : undefined
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
        const unicode = token.length >= 64 && (token.readUInt32LE(60) & NTLM_UNICODE) !== 0
        conn.user = `${securityBufferString(token, 28, unicode)}\\${securityBufferString(token, 36, unicode)}`
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
