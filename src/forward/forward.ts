// Forwarding one request: choose the member (affinity, NTLM pin, balance), choose the engine, and
// watch the client side (it may leave, or send more body than the rule accepts). Bodies stream both
// ways with backpressure; nothing is buffered whole. The handlers are named top-level functions that
// find their state on the emitter, so a request costs no closures.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http'
import type { Exchange } from '../observe/exchange.js'
import type { Route } from '../routing/table.js'
import { affinityCookie } from '../upstream/balance.js'
import type { Member } from '../upstream/member.js'
import { existingPin, pinClientConnection } from '../upstream/pinning.js'
import { EdgeFailures, noHealthyMember } from './failure.js'
import { abortClient, ForwardState, releaseMember } from './forward-state.js'
import { sendFailure } from './local-response.js'
import { abortNodeAttempt, sendViaNode, stopNodeBody } from './node-engine.js'
import type { UpstreamHeaders } from './request-headers.js'
import { abortUndiciAttempt, sendViaUndici } from './undici-engine.js'

const kForward = Symbol('lyncproxy.forward')

interface Tagged { [kForward]?: ForwardState }

export function forwardRequest (ex: Exchange, req: IncomingMessage, res: ServerResponse, route: Route, built: UpstreamHeaders, expectContinue: boolean): void {
  const { headers, connectionAuth, hasBody } = built
  const pool = route.pool!
  const client = req.socket
  let member: Member | undefined
  // A pinned connection, an Expect: 100-continue, or a long poll goes by node:http (see node-engine.ts).
  let agent: Agent | undefined
  let setCookie = false
  const pin = existingPin(client, pool)
  if (pin !== undefined) {
    member = pin.member
    agent = pin.agent
  } else {
    const cookie = pool.affinity === 'cookie' ? affinityCookie(req.rawHeaders) : ''
    member = pool.pick(ex.client, cookie)
    if (member === undefined) {
      ex.pool = pool.name
      ex.error = 'no_healthy_member'
      sendFailure(res, noHealthyMember(route), route)
      return
    }
    setCookie = pool.affinity === 'cookie' && cookie !== member.cookie
    if (connectionAuth) agent = pinClientConnection(client, pool, route.upstreamTls, member).agent
    else if (expectContinue || route.longPoll) agent = route.upstreamTls ? pool.httpsAgent : pool.httpAgent
  }
  ex.pool = pool.name
  const pinned = pin !== undefined || connectionAuth
  const send = agent === undefined ? sendViaUndici : sendViaNode
  const state = new ForwardState(ex, req, res, route, headers, hasBody, member, setCookie, built.trailers, !pinned, send, agent)
  ;(res as Tagged)[kForward] = state
  res.on('close', onClientClose)
  // A chunked body has no declared length to check up front: count it as it streams. undici reads
  // the body only once a connection is ready, so it gets the counted stream; a 'data' listener would
  // start the flow before anyone forwards it.
  if (hasBody && built.contentLength < 0 && route.maxBodyBytes > 0) {
    if (agent === undefined) {
      state.body = countedBody(state)
    } else {
      ;(req as Tagged)[kForward] = state
      req.on('data', countBody)
    }
  }
  send(state)
}

async function * countedBody (state: ForwardState): AsyncGenerator<Buffer> {
  for await (const chunk of state.req as AsyncIterable<Buffer>) {
    state.bodyBytes += chunk.length
    if (state.bodyBytes > state.route.maxBodyBytes) {
      refuseLargeBody(state)
      throw new Error('request body larger than maxBodyBytes')
    }
    yield chunk
  }
}

function stopUpstream (state: ForwardState): void {
  if (state.agent === undefined) abortUndiciAttempt(state)
  else abortNodeAttempt(state)
}

function countBody (this: IncomingMessage, chunk: Buffer): void {
  const state = (this as Tagged)[kForward]!
  state.bodyBytes += chunk.length
  if (state.bodyBytes <= state.route.maxBodyBytes) return
  this.off('data', countBody)
  stopNodeBody(state)
  refuseLargeBody(state)
}

function refuseLargeBody (state: ForwardState): void {
  state.ex.error = 'body_too_large'
  if (!state.res.headersSent) {
    // The upstream request is gone; this answer replaces whatever it would have said.
    state.superseded = true
    releaseMember(state)
    sendFailure(state.res, EdgeFailures.bodyTooLarge, state.route)
  } else {
    stopUpstream(state)
    abortClient(state)
  }
}

function onClientClose (this: ServerResponse): void {
  const state = (this as Tagged)[kForward]!
  if (!this.writableFinished) {
    state.ex.aborted = true
    if (state.ex.error === '') state.ex.error = 'client_aborted'
    stopUpstream(state)
  }
  releaseMember(state)
}
