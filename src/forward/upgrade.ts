// WebSocket tunnelling. Only `Upgrade: websocket` on GET is tunnelled; anything else (h2c above all,
// the request-smuggling vector) was refused by the edge. Bytes the client sent with its upgrade request
// wait until the upstream has answered 101, and an idle tunnel is closed after the rule's timeout.
import http, { type ClientRequest, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Exchange } from '../observe/exchange.js'
import type { Route } from '../routing/table.js'
import { classifyUpstreamError, noHealthyMember } from './failure.js'
import { writeRawFailure } from './local-response.js'
import { filterResponseHeaders } from './request-headers.js'

export function forwardUpgrade (ex: Exchange, client: Socket, head: Buffer, route: Route, headers: string[], done: () => void): void {
  const pool = route.pool!
  ex.pool = pool.name
  const member = pool.pick(ex.client, '')
  if (member === undefined) {
    const failure = noHealthyMember(route)
    ex.error = failure.code
    ex.status = failure.status
    writeRawFailure(client, failure, route)
    done()
    return
  }
  const port = route.bridgePort !== 0 ? route.bridgePort : route.upstreamTls ? member.httpsPort : member.httpPort
  ex.member = member.name
  ex.upstream = member.address + ':' + port
  const options: https.RequestOptions = {
    // Upgraded sockets leave the agent anyway; a fresh connection keeps the keep-alive pool clean.
    agent: false,
    host: member.address,
    port,
    method: 'GET',
    path: ex.target,
    headers: headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    timeout: route.timeouts.connectMs,
    ...(route.upstreamTls ? pool.tlsOptions : {}),
  }
  const upReq: ClientRequest = route.upstreamTls ? https.request(options) : http.request(options)
  let settled = false
  const fail = (err: Error): void => {
    if (settled) return
    settled = true
    const failure = classifyUpstreamError(err, route, member.address, port)
    ex.error = failure.code
    ex.status = failure.status
    writeRawFailure(client, failure, route)
    done()
  }
  client.on('error', () => upReq.destroy())
  upReq.on('timeout', () => upReq.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })))
  upReq.on('error', fail)
  upReq.on('response', (upRes) => {
    // The upstream declined the upgrade: relay its answer as a plain response and close.
    settled = true
    ex.status = upRes.statusCode ?? 502
    ex.upstreamStatus = ex.status
    client.write(statusLine(upRes) + headerBlock(filterResponseHeaders(upRes.rawHeaders), ['Connection', 'close']))
    upRes.pipe(client)
    upRes.on('error', () => client.destroy())
    upRes.on('end', done)
  })
  upReq.on('upgrade', (upRes, upSocket, upHead) => {
    settled = true
    ex.status = 101
    ex.upstreamStatus = 101
    upSocket.setTimeout(0)
    const relayed = filterResponseHeaders(upRes.rawHeaders)
    relayed.push('Connection', 'Upgrade', 'Upgrade', upRes.headers.upgrade ?? 'websocket')
    client.write(statusLine(upRes) + headerBlock(relayed, []))
    if (upHead.length > 0) client.write(upHead)
    if (head.length > 0) upSocket.write(head)
    const idle = route.timeouts.responseMs
    client.setTimeout(idle, () => { client.destroy(); upSocket.destroy() })
    upSocket.on('error', () => client.destroy())
    client.on('error', () => upSocket.destroy())
    upSocket.on('close', () => { client.destroy(); done() })
    client.on('close', () => upSocket.destroy())
    upSocket.pipe(client)
    client.pipe(upSocket)
  })
  upReq.end()
}

function statusLine (res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`
}

function headerBlock (headers: string[], extra: string[]): string {
  let block = ''
  for (let i = 0; i < headers.length; i += 2) block += headers[i] + ': ' + headers[i + 1] + '\r\n'
  for (let i = 0; i < extra.length; i += 2) block += extra[i] + ': ' + extra[i + 1] + '\r\n'
  return block + '\r\n'
}
