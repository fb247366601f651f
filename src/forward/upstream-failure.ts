// What went wrong with the upstream, told as one of the named upstream failures (respond/failure.ts
// owns their statuses and codes). Only the reason is written here: it names the pool, the member's
// address and port, and the setting to look at, which only the forward path knows.
import { failureOf, UpstreamFailures, type Failure } from '../respond/failure.js'
import type { Route } from '../routing/table.js'

const TLS_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
])
const TLS_EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])

export const kTimeoutKind = Symbol('lyncproxy.timeoutKind')
// queue: no connection of the member's maxSockets became free in time (upstream/waiting-requests.ts).
export type TimeoutKind = 'connect' | 'response' | 'queue'

// An error from either engine or the upgrade path, with the timeout kind when a timer fired.
export type UpstreamError = NodeJS.ErrnoException & { [kTimeoutKind]?: TimeoutKind }

// `address` and `port` are where the request went: the chosen member's address and bridged port.
export function classifyUpstreamError (err: UpstreamError, route: Route, address: string, port: number): Failure {
  const pool = route.pool
  const poolName = pool?.name ?? '?'
  const where = pool === undefined ? '' : ` (${pool.fqdn} at ${address}:${port})`
  const timeout = err[kTimeoutKind]
  if (timeout === 'connect') {
    return failureOf(UpstreamFailures.connectTimeout, `no connection to pool ${poolName}${where} within ${route.timeouts.connectMs / 1000} s: check that the pool answers on port ${port} and that the firewall allows the proxy's internal interface to reach it`)
  }
  if (timeout === 'queue') {
    return failureOf(UpstreamFailures.busy, `all ${pool?.maxSockets ?? '?'} connections to pool ${poolName}${where} stayed busy for ${route.timeouts.queueMs / 1000} s: raise pools.${poolName}.maxSockets, or mark the rule that carries long polls (/ucwa, /mcx) with longPoll: true`)
  }
  if (timeout === 'response') {
    return failureOf(UpstreamFailures.timeout, `pool ${poolName}${where} sent no response within ${route.timeouts.responseMs / 1000} s: long polls (/ucwa, /mcx) need rules.${route.rule}.timeouts.response of at least 960`)
  }
  const code = err.code ?? ''
  if (code === 'ECONNREFUSED') {
    return failureOf(UpstreamFailures.refused, `pool ${poolName}${where} refused the connection: is its ${route.upstreamTls ? 'HTTPS' : 'HTTP'} external web site listening on port ${port}?`)
  }
  if (TLS_UNTRUSTED.has(code)) {
    return failureOf(UpstreamFailures.tlsUntrusted, `upstream TLS certificate not trusted (${code}): add the issuing CA to pools.${poolName}.tls.ca`)
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return failureOf(UpstreamFailures.tlsName, `upstream certificate does not name ${pool?.servername ?? 'the pool'}: reissue it with that name in its SAN, or set pools.${poolName}.tls.servername to a name it carries`)
  }
  if (TLS_EXPIRED.has(code)) {
    return failureOf(UpstreamFailures.tlsExpired, `upstream certificate of pool ${poolName} is expired or not yet valid (${code}): renew it`)
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return failureOf(UpstreamFailures.dns, `cannot resolve ${address}: give pools.${poolName}.address as an IP or fix DNS`)
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return failureOf(UpstreamFailures.unreachable, `pool ${poolName}${where} is unreachable (${code})`)
  }
  if (code.startsWith('HPE_') || code === 'ERR_UNSOLICITED_UPGRADE') {
    return failureOf(UpstreamFailures.badResponse, `pool ${poolName}${where} sent an invalid HTTP response (${code})`)
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return failureOf(UpstreamFailures.tlsFailed, `TLS with pool ${poolName}${where} failed (${code}): the pool's port ${port} must speak TLS; SSL offloading to a plain port is not supported for Lync`)
  }
  return failureOf(UpstreamFailures.reset, `pool ${poolName}${where} closed the connection before responding (${code || err.message})`)
}

export function noHealthyMember (route: Route): Failure {
  const name = route.pool?.name ?? '?'
  return failureOf(UpstreamFailures.noHealthyMember, `pool ${name} has no healthy member: every server is down, ejected or drained (see the health checks of pools.${name})`)
}
