// Every answer the proxy gives instead of the upstream's is named here: its status, the code it
// carries in X-Lyncproxy-Error and the access log, and a short body that says what went wrong in the
// words of a Lync admin. Nowhere else decides a failure status: the edge and the forward path only
// choose among these names.

export interface Failure {
  status: number
  code: string
  reason: string
}

// A failure whose reason names the exchange's pool, member and port: the status and code are fixed
// here, the forward path writes the reason (forward/upstream-failure.ts).
export interface FailureKind {
  readonly status: number
  readonly code: string
}

export function failureOf (kind: FailureKind, reason: string): Failure {
  return { status: kind.status, code: kind.code, reason }
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
  tooManyHeaders: { status: 431, code: 'too_many_headers', reason: 'the request has more header fields than this proxy accepts' },
  uriTooLong: { status: 414, code: 'uri_too_long', reason: 'the request target is longer than this proxy accepts' },
} as const satisfies Record<string, Failure>

// Requests Node's parser refused (edge/client-error.ts): they never became requests.
export const ParseFailures = {
  headersTooLarge: { status: 431, code: 'headers_too_large', reason: 'the request header section is larger than this proxy accepts' },
  requestTimeout: { status: 408, code: 'request_timeout', reason: 'the request was not received in time' },
  malformed: { status: 400, code: 'malformed_request', reason: 'the request is not valid HTTP/1.1' },
  // The client closed its sending side before the body it declared was complete. The status is
  // nginx's for the same case; the code keeps it apart from bad syntax.
  bodyIncomplete: { status: 400, code: 'body_incomplete', reason: 'the connection was closed before the request body was complete' },
} as const satisfies Record<string, Failure>

// Faults a rule injects on purpose (rules.<name>.fault, edge/injected-fault.ts). The abort's status
// is the rule's own choice, so it is given with the fault; the others never send a status at all:
// their codes name what was done to the connection, in the access log and the flow feed.
export const InjectedFaults = {
  abort: { code: 'fault_abort', reason: 'fault injected on purpose by this rule (fault.abort)' },
  reset: { code: 'fault_reset' },
  stall: { code: 'fault_stall' },
  truncated: { code: 'fault_truncated' },
  cut: { code: 'fault_cut' },
} as const

// Failures of the upstream, chosen by forward/upstream-failure.ts.
export const UpstreamFailures = {
  connectTimeout: { status: 504, code: 'upstream_connect_timeout' },
  busy: { status: 503, code: 'upstream_busy' },
  timeout: { status: 504, code: 'upstream_timeout' },
  refused: { status: 502, code: 'upstream_refused' },
  tlsUntrusted: { status: 502, code: 'upstream_tls_untrusted' },
  tlsName: { status: 502, code: 'upstream_tls_name' },
  tlsExpired: { status: 502, code: 'upstream_tls_expired' },
  dns: { status: 502, code: 'upstream_dns' },
  unreachable: { status: 502, code: 'upstream_unreachable' },
  badResponse: { status: 502, code: 'upstream_bad_response' },
  tlsFailed: { status: 502, code: 'upstream_tls_failed' },
  reset: { status: 502, code: 'upstream_reset' },
  noHealthyMember: { status: 503, code: 'no_healthy_member' },
} as const satisfies Record<string, FailureKind>

// A fault in the proxy's own code (respond/fault.ts).
export const INTERNAL_FAILURE: Failure = { status: 500, code: 'internal_error', reason: 'the proxy failed while serving this request; its error log has the details under the request id' }

// Not a failure, but an answer the proxy gives itself in place of a route (sendOptionsStar).
export const OPTIONS_STAR: Failure = { status: 200, code: 'options', reason: 'OPTIONS * is answered by the proxy itself' }

// Never sent: what the access log records for a request whose client closed the connection before
// any response went out, as nginx logs it.
export const CLIENT_CLOSED_REQUEST = 499

// Every answer above, so that a check can hold them all to the status-text table
// (test/respond-vocabulary.test.ts).
export const VOCABULARY: readonly FailureKind[] = [
  ...Object.values(EdgeFailures), ...Object.values(ParseFailures), ...Object.values(UpstreamFailures),
  INTERNAL_FAILURE, OPTIONS_STAR,
]

// The part of a route a local answer names. Structural, so that respond sits below routing and a
// routing Route is accepted as it is.
export interface AnsweringRule {
  readonly rule: string
}

export function failureBody (failure: Failure, route: AnsweringRule | undefined): string {
  const where = route === undefined ? '' : `rule ${route.rule}: `
  return `${failure.status} ${failure.code}\n${where}${failure.reason}\n`
}
