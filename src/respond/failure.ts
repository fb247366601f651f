// Every request-path failure maps to a status here, and to a short body that says what went wrong in
// the words of a Lync admin. Nowhere else decides a failure status.
import type { Route } from '../routing/table.js'

export interface Failure {
  status: number
  code: string
  reason: string
}

const TLS_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
])
const TLS_EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])

export const kTimeoutKind = Symbol('lyncproxy.timeoutKind')
// queue: no connection of the member's maxSockets became free in time (forward/queue-watch.ts).
export type TimeoutKind = 'connect' | 'response' | 'queue'

// `address` and `port` are where the request went: the chosen member's address and bridged port.
export function classifyUpstreamError (err: NodeJS.ErrnoException & { [kTimeoutKind]?: TimeoutKind }, route: Route, address: string, port: number): Failure {
  const pool = route.pool
  const poolName = pool?.name ?? '?'
  const where = pool === undefined ? '' : ` (${pool.fqdn} at ${address}:${port})`
  const timeout = err[kTimeoutKind]
  if (timeout === 'connect') {
    return { status: 504, code: 'upstream_connect_timeout', reason: `no connection to pool ${poolName}${where} within ${route.timeouts.connectMs / 1000} s: check that the pool answers on port ${port} and that the firewall allows the proxy's internal interface to reach it` }
  }
  if (timeout === 'queue') {
    return { status: 503, code: 'upstream_busy', reason: `all ${pool?.maxSockets ?? '?'} connections to pool ${poolName}${where} stayed busy for ${route.timeouts.queueMs / 1000} s: raise pools.${poolName}.maxSockets, or mark the rule that carries long polls (/ucwa, /mcx) with longPoll: true` }
  }
  if (timeout === 'response') {
    return { status: 504, code: 'upstream_timeout', reason: `pool ${poolName}${where} sent no response within ${route.timeouts.responseMs / 1000} s: long polls (/ucwa, /mcx) need rules.${route.rule}.timeouts.response of at least 960` }
  }
  const code = err.code ?? ''
  if (code === 'ECONNREFUSED') {
    return { status: 502, code: 'upstream_refused', reason: `pool ${poolName}${where} refused the connection: is its ${route.upstreamTls ? 'HTTPS' : 'HTTP'} external web site listening on port ${port}?` }
  }
  if (TLS_UNTRUSTED.has(code)) {
    return { status: 502, code: 'upstream_tls_untrusted', reason: `upstream TLS certificate not trusted (${code}): add the issuing CA to pools.${poolName}.tls.ca` }
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { status: 502, code: 'upstream_tls_name', reason: `upstream certificate does not name ${pool?.servername ?? 'the pool'}: reissue it with that name in its SAN, or set pools.${poolName}.tls.servername to a name it carries` }
  }
  if (TLS_EXPIRED.has(code)) {
    return { status: 502, code: 'upstream_tls_expired', reason: `upstream certificate of pool ${poolName} is expired or not yet valid (${code}): renew it` }
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { status: 502, code: 'upstream_dns', reason: `cannot resolve ${address}: give pools.${poolName}.address as an IP or fix DNS` }
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return { status: 502, code: 'upstream_unreachable', reason: `pool ${poolName}${where} is unreachable (${code})` }
  }
  if (code.startsWith('HPE_') || code === 'ERR_UNSOLICITED_UPGRADE') {
    return { status: 502, code: 'upstream_bad_response', reason: `pool ${poolName}${where} sent an invalid HTTP response (${code})` }
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return { status: 502, code: 'upstream_tls_failed', reason: `TLS with pool ${poolName}${where} failed (${code}): the pool's port ${port} must speak TLS; SSL offloading to a plain port is not supported for Lync` }
  }
  return { status: 502, code: 'upstream_reset', reason: `pool ${poolName}${where} closed the connection before responding (${code || err.message})` }
}

export function noHealthyMember (route: Route): Failure {
  const name = route.pool?.name ?? '?'
  return { status: 503, code: 'no_healthy_member', reason: `pool ${name} has no healthy member: every server is down, ejected or drained (see the health checks of pools.${name})` }
}

// Failures the edge decides before any upstream is involved.
export const EdgeFailures = {
  notPublished: { status: 404, code: 'not_published', reason: 'this name is not published by any rule on this listener' },
  pathNotPublished: { status: 404, code: 'path_not_published', reason: 'no publishing rule for this name covers this path' },
  denied: { status: 403, code: 'denied', reason: 'a deny rule matches this request' },
  misdirected: { status: 421, code: 'misdirected', reason: 'the TLS server name (SNI) and the Host header name different sites and the certificate does not cover the Host' },
  badHost: { status: 400, code: 'bad_host', reason: 'exactly one valid Host header is required' },
  badVersion: { status: 505, code: 'bad_version', reason: 'only HTTP/1.0 and HTTP/1.1 are served' },
  badTarget: { status: 400, code: 'bad_target', reason: 'the request target is not an acceptable origin-form path' },
  badHeader: { status: 400, code: 'bad_header', reason: 'header names with "_" are refused because IIS treats "_" and "-" alike' },
  badTransferCoding: { status: 501, code: 'transfer_coding', reason: 'only the chunked transfer coding is accepted on requests' },
  bodyTooLarge: { status: 413, code: 'body_too_large', reason: 'the request body is larger than this rule accepts (rules.<name>.maxBodyBytes)' },
  upgradeRefused: { status: 400, code: 'upgrade_refused', reason: 'only Upgrade: websocket is tunnelled' },
  connectRefused: { status: 405, code: 'method_not_allowed', reason: 'CONNECT is not served by a reverse proxy' },
  loop: { status: 508, code: 'loop_detected', reason: 'this request already passed through this proxy (Via)' },
} as const satisfies Record<string, Failure>

export function failureBody (failure: Failure, route: Route | undefined): string {
  const where = route === undefined ? '' : `rule ${route.rule}: `
  return `${failure.status} ${failure.code}\n${where}${failure.reason}\n`
}
