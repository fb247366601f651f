// The one schema of lyncproxy's YAML configuration. The TypeScript types below are derived from it
// (Static<>), so the validator and the code can never disagree about the shape of a config.
// Vocabulary follows what Lync admins know from TMG and ARR: listeners, pools (server farms),
// web publishing rules with public names and bridging.
//
// Two annotations, kept apart because they answer different readers:
// - `description` says what a field means, for the admin reading docs/configuration.md, which
//   scripts/gen-docs.ts renders from it; every field has one (the generator refuses a field without).
// - `expected` names the form of a value in a validation message ("expected a DNS name such as …"),
//   for the admin whose file was refused; src/config/validate.ts reads it and ajv is told it is an
//   annotation. A schema without one is described by its type and bounds.
import { Type, type Static, type TSchema } from '@sinclair/typebox'

// A shared schema (a port, a name) with the description of the one field it is used for. A copy, so
// that fields built from the same schema keep their own descriptions.
function field<T extends TSchema> (schema: T, description: string): T {
  return { ...schema, description }
}

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', expected: 'an identifier: letters, digits, . _ -' })
const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const Seconds = Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })
// A DNS name as a Lync topology uses it; `*.` is allowed for wildcard public names.
const Fqdn = Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\\.?$', maxLength: 253, expected: 'a DNS name such as webext.contoso.com' })
const Address = Type.String({ minLength: 1, maxLength: 255, expected: 'an IPv4/IPv6 address or a host name' })
const PathPrefix = Type.String({ pattern: '^/[^?#\\s]*$', expected: 'a path prefix starting with /' })
const FilePath = Type.String({ minLength: 1 })
const EnvName = Type.String({ minLength: 1 })
// More worker processes than this only add memory and scheduling: the accept loop of the cluster
// primary and the upstream servers saturate long before.
export const MAX_WORKERS = 64

export const TimeoutsSchema = Type.Object({
  connect: Type.Optional(field(Seconds, 'Seconds to open a connection to the pool; past it the client gets 504 upstream_connect_timeout.')),
  response: Type.Optional(field(Seconds, 'Seconds to wait for the pool\'s response headers (504 upstream_timeout past it). The default is below the 900 s long polls of UCWA and Mcx on purpose: the rules that carry them raise it (Microsoft gives 960 s for ARR).')),
}, { additionalProperties: false })

const PassphraseEnv = field(EnvName, 'The name of the environment variable that holds the passphrase of the key or PFX, never the passphrase itself.')
const PassphraseFile = field(FilePath, 'A file that holds the passphrase of the key or PFX, for example a systemd credential; relative to the config file.')

export const CertificateSchema = Type.Union([
  Type.Object({
    lab: Type.Literal(true, { description: 'Issue this certificate from the lab CA, covering every public name.' }),
  }, { additionalProperties: false }),
  Type.Object({
    labInternal: field(Name, 'The lab\'s internal certificate of the pool named here: what an HLB VIP of that pool presents.'),
  }, { additionalProperties: false }),
  Type.Object({
    cert: field(FilePath, 'PEM file of the certificate, issued for the published names with the server authentication EKU; relative to the config file.'),
    key: field(FilePath, 'PEM file of the certificate\'s private key.'),
    chain: Type.Optional(field(FilePath, 'PEM file of the intermediate CA certificates, sent after the certificate.')),
    passphraseEnv: Type.Optional(PassphraseEnv),
    passphraseFile: Type.Optional(PassphraseFile),
  }, { additionalProperties: false }),
  Type.Object({
    pfx: field(FilePath, 'A PFX (PKCS#12) file as Windows exports it, with the private key and, ideally, the whole certification path.'),
    passphraseEnv: Type.Optional(PassphraseEnv),
    passphraseFile: Type.Optional(PassphraseFile),
  }, { additionalProperties: false }),
])

export const ListenerSchema = Type.Object({
  name: field(Name, 'The listener\'s name, which rules give in `listeners` and logs and metrics report.'),
  protocol: Type.Union([Type.Literal('http'), Type.Literal('https')], { description: 'Whether the listener serves plain HTTP or terminates TLS; an https listener needs `certificates`.' }),
  interface: Type.Optional(Type.Union([Type.Literal('external'), Type.Literal('internal')], {
    description: 'Which side of the port summary the listener is on: external (the reverse proxy\'s public side) or internal (an HLB VIP that internal clients and the reverse proxy reach).',
  })),
  address: Type.Optional(Type.String({ minLength: 1, description: 'The local address to listen on; loopback by default, so nothing is exposed by accident. Prefer the one address the external DNS records point at.' })),
  port: field(Port, 'The TCP port to listen on: 443 and 80 for the external web services.'),
  publicPort: Type.Optional(field(Port, 'The port clients see when it differs from `port` (NAT in front of the proxy); used in redirects.')),
  certificates: Type.Optional(Type.Array(CertificateSchema, {
    minItems: 1,
    description: 'The certificates an https listener presents, chosen by SNI; the first answers clients that send no SNI. Each takes one of the forms below.',
  })),
  redirectToHttps: Type.Optional(Type.Boolean({ description: 'On an http listener: published names that no http rule forwards are redirected to HTTPS.' })),
  tlsProfile: Type.Optional(Type.Union([Type.Literal('intermediate'), Type.Literal('old')], {
    description: 'On an https listener: intermediate (the default, Mozilla\'s profile: TLS 1.2 and 1.3, forward-secret AEAD suites) or old (adds TLS 1.0 and 1.1 and CBC suites, for Lync Phone Edition, which speaks TLS 1.0 only, and Windows 7, which lacks ECDHE-RSA with GCM). `lyncproxy check` warns about old.',
  })),
}, { additionalProperties: false })

export const PoolTlsSchema = Type.Object({
  ca: Type.Optional(Type.Array(FilePath, {
    minItems: 1,
    description: 'PEM files of the CAs that issued the pool\'s internal certificates (the enterprise CA\'s root and intermediates); `lab` means certs/lab-ca.pem.',
  })),
  verify: Type.Optional(Type.Boolean({ description: 'Verify the pool\'s certificate; false accepts any server on the pool\'s address, and `lyncproxy check` warns about it.' })),
  servername: Type.Optional(field(Fqdn, 'The name sent as SNI and expected in the pool\'s certificate, when it differs from the pool\'s `fqdn`.')),
}, { additionalProperties: false })

export const MemberSchema = Type.Object({
  name: field(Name, 'The member\'s name, which metrics, health and drain/undrain name it by.'),
  address: field(Address, 'The member\'s IP address or host name.'),
  httpPort: Type.Optional(field(Port, 'The member\'s HTTP port, when it listens elsewhere than the pool\'s `httpPort`.')),
  httpsPort: Type.Optional(field(Port, 'The member\'s HTTPS port, when it listens elsewhere than the pool\'s `httpsPort`.')),
  weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'The member\'s share of new requests relative to the others.' })),
}, { additionalProperties: false })

export const HealthSchema = Type.Object({
  check: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('tcp'), Type.Literal('none')], {
    description: 'http: GET `path` on the member\'s HTTPS port and expect 200, as Microsoft\'s HLB probe does; tcp: a connect; none: members are taken as up.',
  })),
  path: Type.Optional(field(PathPrefix, 'The path an http check requests; by default the autodiscover root, Microsoft\'s own probe of the web services.')),
  interval: Type.Optional(field(Seconds, 'Seconds between two checks of a member.')),
  timeout: Type.Optional(field(Seconds, 'Seconds a check may take before it counts as failed.')),
  rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Consecutive successful checks that bring a down member back up.' })),
  fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Consecutive failed checks that take a member down.' })),
}, { additionalProperties: false })

export const PassiveSchema = Type.Object({
  failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Consecutive connect failures or 5xx answers of real requests that eject a member.' })),
  backoff: Type.Optional(field(Seconds, 'Seconds an ejected member stays out at first.')),
}, { additionalProperties: false })

export const PoolDnsSchema = Type.Object({
  name: Type.Optional(field(Fqdn, 'The name whose A/AAAA records are the members; the pool\'s `fqdn` by default.')),
  interval: Type.Optional(field(Seconds, 'Seconds between two resolutions; by default the records\' TTL decides.')),
  server: Type.Optional(Type.String({ minLength: 1, description: 'A DNS server to ask (ip or ip:port) instead of the system resolver.' })),
}, { additionalProperties: false })

export const PoolSchema = Type.Object({
  description: Type.Optional(Type.String({ description: 'Free text for the admin; /api/routes and the teaching page show it.' })),
  kind: Type.Optional(Type.Union([Type.Literal('vip'), Type.Literal('members'), Type.Literal('dns')], {
    description: 'vip: one address, an HLB balances behind it (what Lync web traffic needs); members: lyncproxy balances between `members`; dns: the A/AAAA records of a name are the members (labs only).',
  })),
  members: Type.Optional(Type.Array(MemberSchema, { minItems: 1, description: 'The servers of a members pool.' })),
  balance: Type.Optional(Type.Union([Type.Literal('round-robin'), Type.Literal('least-connections')], {
    description: 'How a members pool picks the member of a new request.',
  })),
  affinity: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('source'), Type.Literal('cookie')], {
    description: 'none for external web services (Microsoft\'s HLB table), source for internal ones; cookie inserts MS-WSMAN as Microsoft specifies it.',
  })),
  health: Type.Optional(field(HealthSchema, 'Active health checks of the members.')),
  passive: Type.Optional(field(PassiveSchema, 'Ejection of members that fail real requests, beside the active checks.')),
  dns: Type.Optional(field(PoolDnsSchema, 'How a dns pool finds its members.')),
  role: Type.Optional(Type.Union([Type.Literal('frontend'), Type.Literal('director'), Type.Literal('owas'), Type.Literal('other')], {
    description: 'What the pool is in the Lync topology; lints, the lab and the port tables read it.',
  })),
  fqdn: field(Fqdn, 'The pool\'s FQDN (its HLB VIP\'s name): where the proxy connects unless `address` says otherwise, and the name the pool\'s certificate must carry.'),
  externalWebFqdn: Type.Optional(field(Fqdn, 'Topology Builder\'s "external web services FQDN" of this pool (webext.contoso.com), when it has one.')),
  address: Type.Optional(field(Address, 'Where to connect, when it is not the `fqdn` (labs and hosts-file setups).')),
  httpPort: Type.Optional(field(Port, 'The port that requests received on port 80 are bridged to: Lync\'s external web site listens on 8080 (80 is the internal site).')),
  httpsPort: Type.Optional(field(Port, 'The port that requests received on port 443 are bridged to: Lync\'s external web site listens on 4443 (443 is the internal site).')),
  tls: Type.Optional(field(PoolTlsSchema, 'How the proxy verifies the pool\'s certificate on HTTPS connections.')),
  // HAProxy's server maxconn: without a cap, every busy client is a request in flight upstream
  // (see DEFAULTS.poolMaxSockets for why the cap is there).
  maxSockets: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 65_536,
    description: 'Connections to one member for the requests of ordinary rules; more requests wait in the proxy for one to free up, and get 503 upstream_busy after twice the connect timeout. Long-poll rules are not counted.',
  })),
}, { additionalProperties: false })

// Faults injected on purpose, as Envoy's fault filter does, so that a client developer can test
// what a Lync client does behind a proxy that misbehaves. Never for production traffic.
export const FaultSchema = Type.Object({
  percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'The share of the rule\'s forwarded requests the fault applies to, in percent; 100 by default.' })),
  delay: Type.Optional(field(Seconds, 'Seconds to hold each request before it goes on (or before the fault below).')),
  abort: Type.Optional(Type.Integer({ minimum: 200, maximum: 599, description: 'Answer with this status instead of forwarding (error code fault_abort).' })),
  reset: Type.Optional(Type.Boolean({ description: 'Close the client connection instead of answering (fault_reset).' })),
  stall: Type.Optional(Type.Boolean({ description: 'Never forward and never answer: the client waits until it gives up (fault_stall), as behind an upstream that hangs.' })),
  truncateAfter: Type.Optional(Type.Integer({ minimum: 0, description: 'Cut the response body after this many bytes by closing the connection (fault_truncated).' })),
  cutAfter: Type.Optional(field(Seconds, 'Close the connection this many seconds after the request arrived if the response has not ended, as a proxy with a short read timeout cuts a long poll (fault_cut).')),
}, {
  additionalProperties: false,
  description: 'Faults to inject, for client developers\' tests: `reset` wins over `stall`, `stall` over `abort`; `delay` comes first; `truncateAfter` and `cutAfter` apply to what is forwarded. A WebSocket upgrade gets them too: `cutAfter` closes its tunnel, `truncateAfter` counts the bytes after the 101\'s head.',
})

export const RuleSchema = Type.Object({
  name: field(Name, 'The rule\'s name, as logs, metrics, error bodies and `lyncproxy explain` report it.'),
  description: Type.Optional(Type.String({ description: 'Free text for the admin, such as the TMG or ARR rule this one replaces; nothing acts on it.' })),
  publicNames: Type.Array(Type.Union([Fqdn, Type.Literal('*')]), {
    minItems: 1,
    description: 'The host names the rule publishes (TMG\'s public names); `*.` for a wildcard, and `*` alone for any Host, as a load balancer VIP listener publishes.',
  }),
  paths: Type.Optional(Type.Array(PathPrefix, { minItems: 1, description: 'The path prefixes the rule covers; `/` covers every path.' })),
  listeners: Type.Optional(Type.Array(Name, { minItems: 1, description: 'The names of the listeners the rule applies on.' })),
  action: Type.Union([Type.Literal('forward'), Type.Literal('redirect'), Type.Literal('deny')], {
    description: 'forward to `pool`, redirect to the same URL on HTTPS, or deny with 403 (for names such as the Control Panel that must never be published).',
  }),
  pool: Type.Optional(field(Name, 'The pool a forward rule sends to; required with forward, refused with the other actions.')),
  bridge: Type.Optional(Type.Object({
    http: Type.Optional(field(Port, 'The pool port that requests from an http listener go to, instead of the pool\'s `httpPort`.')),
    https: Type.Optional(field(Port, 'The pool port that requests from an https listener go to, instead of the pool\'s `httpsPort`.')),
    offloadTls: Type.Optional(Type.Boolean({
      description: 'true: requests from an https listener go to the pool in plain HTTP, to its `httpPort` unless `https` names another (TMG\'s bridging "Redirect requests to HTTP port"). Lync\'s external web services need HTTPS on 4443; only for reproducing that mistake (lyncproxy lab --broken tls-offload).',
    })),
  }, {
    additionalProperties: false,
    description: 'Bridging override; by default 443 → pool.httpsPort and 80 → pool.httpPort, as TMG bridging does.',
  })),
  redirectStatus: Type.Optional(Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(307), Type.Literal(308)], {
    description: 'The status of a redirect rule\'s answer.',
  })),
  timeouts: Type.Optional(field(TimeoutsSchema, 'This rule\'s timeouts toward the pool, each over `defaults.timeouts`.')),
  maxBodyBytes: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Largest request body this rule forwards, in bytes; larger ones get 413 body_too_large.',
  })),
  // nginx's proxy_request_buffering, HAProxy's http-buffer-request.
  requestBufferBytes: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 16 * 1024 * 1024,
    description: 'Bytes of a request body the proxy receives before it takes an upstream connection; the rest streams. 0 streams from the first byte.',
  })),
  hstsMaxAge: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 315_360_000,
    description: 'Strict-Transport-Security max-age on this rule\'s HTTPS responses, in seconds; no header unless set.',
  })),
  longPoll: Type.Optional(Type.Boolean({
    description: 'The rule carries long polls (UCWA event channels, Mcx): each request may hold an upstream connection for minutes, so these requests get connections of their own, outside the pool\'s maxSockets.',
  })),
  preserveHost: Type.Optional(Type.Boolean({
    description: 'true (the default): the Host the client sent goes to the pool unchanged, as TMG\'s "Forward the original host header" does and as Lync needs (meet and dialin are routed by Host). false sends the pool\'s `fqdn` instead: only for reproducing that mistake (lyncproxy lab --broken drop-host).',
  })),
  pinConnectionAuth: Type.Optional(Type.Boolean({
    description: 'true (the default): a client connection that sends NTLM or Negotiate is tied to one pool connection for the rest of its life, as NTLM needs (it authenticates the TCP connection). false lets those requests share the pooled connections, as ARR and an nginx with keepalive do, so handshakes break and authenticated connections pass from one client to another: only for reproducing that mistake (lyncproxy lab --broken pool-ntlm).',
  })),
  fault: Type.Optional(FaultSchema),
}, { additionalProperties: false })

// A layer-4 frontend: what an HLB does for SIP/MTLS (5061), 444 and the CLS ports. Bytes are spliced
// both ways; TLS passes through untouched.
export const TcpFrontendSchema = Type.Object({
  name: field(Name, 'The frontend\'s name, as logs and metrics report it.'),
  address: Type.Optional(Type.String({ minLength: 1, description: 'The local address to listen on; loopback by default.' })),
  port: field(Port, 'The TCP port to listen on, for example 5061 for SIP over TLS.'),
  pool: field(Name, 'The pool whose members the connections are spliced to.'),
  targetPort: Type.Optional(field(Port, 'The members\' port, when it differs from the frontend\'s own `port`.')),
  idleTimeout: Type.Optional(field(Seconds, 'Seconds a connection may carry no bytes before it is closed; the default is the HLB requirements\' TCP idle timeout for Director and Front End VIPs.')),
}, { additionalProperties: false })

export const LabUserSchema = Type.Object({
  sipUri: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', expected: 'a SIP URI such as user1@contoso.com', description: 'The lab user\'s SIP URI, user@sipdomain.' }),
  password: Type.String({ minLength: 1, description: 'The lab user\'s password for the stand-in servers; redacted by /api/config.' }),
  displayName: Type.Optional(Type.String({ description: 'The name the stand-in servers show for the user.' })),
}, { additionalProperties: false })

export const LabServerSchema = Type.Object({
  name: field(Name, 'The stand-in server\'s name.'),
  pool: field(Name, 'The pool the stand-in server serves behind.'),
  fqdn: Type.Optional(field(Fqdn, 'The stand-in server\'s own FQDN, which its answers name (X-MS-Server-Fqdn, web tickets); by default its name in the domain of the pool\'s `fqdn`.')),
}, { additionalProperties: false })

export const SipAccessSchema = Type.Object({
  fqdn: field(Fqdn, 'The name SIP clients connect to with TLS.'),
  port: field(Port, 'The port SIP clients connect to.'),
}, { additionalProperties: false })

export const LabSchema = Type.Object({
  sipDomain: field(Fqdn, 'The lab\'s SIP domain (contoso.com): the domain of its users and its simple URLs.'),
  sipAccess: Type.Optional(Type.Object({
    internal: Type.Optional(field(SipAccessSchema, 'Where internal clients register: the Front End pool on 5061 by default (pool fqdn:5061).')),
    external: Type.Optional(field(SipAccessSchema, 'Where remote clients register: the Edge\'s access FQDN on 443 by default (sip.<sipDomain>:443).')),
  }, { additionalProperties: false, description: 'The SIP access locations the autodiscover User document gives out (SipClientInternalAccess, SipClientExternalAccess), as the topology publishes them.' })),
  ucwa: Type.Optional(Type.Object({
    minEventTimeout: Type.Optional(Type.Integer({
      minimum: 1,
      maximum: 180,
      description: 'The shortest event-channel timeout, in seconds, the Front End honours: a P-GET that asks for less is held this long. 180 by default, as UCWA\'s events resource gives; lower it only so a test sees an empty answer sooner than a real pool would give it.',
    })),
  }, { additionalProperties: false, description: 'How the Front End\'s UCWA differs from a real pool\'s, for tests.' })),
  crossDomainAuthorizationList: Type.Optional(Type.Array(Type.String({ pattern: '^https?://[^/?#\\s]+$', expected: 'an origin such as https://app.contoso.com or http://localhost:8000', description: 'An origin (scheme://host[:port]), as RFC 6454 defines it.' }), {
    description: 'The origins whose browser applications may use the pool through its XFrame (CsWebServiceConfiguration\'s CrossDomainAuthorizationList): a request whose X-Ms-Origin is not listed is refused with 403, X-Ms-diagnostics 28070, as a real pool refuses it. Empty by default, as on a pool nobody has configured.',
  })),
  users: Type.Optional(Type.Array(LabUserSchema, { description: 'The users the stand-in servers accept.' })),
  servers: Type.Optional(Type.Array(LabServerSchema, { description: 'The stand-in servers `lyncproxy lab` starts, each behind the pool it names.' })),
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  workers: Type.Optional(Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: MAX_WORKERS })], {
    description: 'Processes that serve the listeners: `auto` is one per CPU (os.availableParallelism()); 1 runs the proxy in one process without node:cluster. Changing it takes a restart.',
  })),
  listeners: Type.Array(ListenerSchema, { minItems: 1, description: 'Where the proxy accepts client connections (TMG\'s web listeners).' }),
  pools: Type.Record(Name, PoolSchema, { description: 'The internal targets by name (TMG\'s "internal site name", ARR\'s server farms): one per HLB VIP or Standard Edition server.' }),
  rules: Type.Array(RuleSchema, { minItems: 1, description: 'The web publishing rules, in order: the first that matches the listener, the host name and the path wins; a name no rule publishes gets 404 not_published.' }),
  tcp: Type.Optional(Type.Array(TcpFrontendSchema, {
    description: 'Layer-4 frontends: what an HLB does for SIP/MTLS (5061), 444 and the CLS ports. Bytes are spliced both ways; TLS passes through untouched.',
  })),
  defaults: Type.Optional(Type.Object({
    timeouts: Type.Optional(field(TimeoutsSchema, 'Timeouts toward the pools, for the rules that set none.')),
    clientIdleTimeout: Type.Optional(field(Seconds, 'Client side: seconds an idle keep-alive connection is kept between requests.')),
    headersTimeout: Type.Optional(field(Seconds, 'Client side: seconds allowed to send the request headers (a slowloris guard).')),
    requestTimeout: Type.Optional(field(Seconds, 'Client side: seconds allowed to send a whole request, body included.')),
    handshakeTimeout: Type.Optional(field(Seconds, 'Client side: seconds allowed for a TLS handshake.')),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Client connections per listener; more are refused until some close.' })),
    maxHeaderBytes: Type.Optional(Type.Integer({
      minimum: 4096,
      maximum: 65_536,
      description: 'The largest request header section a client may send, in bytes; a larger one is answered 431. 16384 by default, as Node and IIS allow; TMG allowed 32 KB, and a Kerberos ticket of a user in many groups can exceed 16 KiB in one Authorization field. Changing it takes a restart.',
    })),
    underscoreHeaders: Type.Optional(Type.Union([Type.Literal('refuse'), Type.Literal('drop'), Type.Literal('forward')], {
      description: 'What to do with a request header whose name has `_`: refuse (400, the default, because IIS reads `_` and `-` alike, so X_Forwarded_For could pass for X-Forwarded-For), drop the field (nginx\'s default), or forward it (as IIS accepts it).',
    })),
    trustedProxies: Type.Optional(Type.Array(Type.String({ pattern: '^(\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/\\d{1,3})?)$', expected: 'an IP address or a CIDR block such as 10.0.0.0/8' }), {
      description: 'Addresses (or CIDR blocks) of proxies in front of lyncproxy whose X-Forwarded-For is kept: the client address is appended to it. From any other client, X-Forwarded-For is replaced (none by default: lyncproxy is the first hop).',
    })),
    maxBodyBytes: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Request body limit in bytes for rules that set none: large enough for meeting content uploads, small enough that one client cannot stream forever.',
    })),
    requestBufferBytes: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: 16 * 1024 * 1024,
      description: 'Request buffer in bytes for rules that set none (see the rule\'s requestBufferBytes): larger than the bodies Lync clients send, so those reach a server whole.',
    })),
  }, { additionalProperties: false, description: 'Settings for every listener and rule that does not set its own.' })),
  certs: Type.Optional(Type.Object({
    dir: Type.Optional(field(FilePath, 'Where lyncproxy keeps the certificates it generates (the lab CA); relative to the config file\'s directory, or its parent when that directory is named config.')),
  }, { additionalProperties: false, description: 'The certificates lyncproxy generates itself.' })),
  log: Type.Optional(Type.Object({
    level: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
      description: 'The least severe level written; silent writes nothing.',
    })),
    file: Type.Optional(field(FilePath, 'Append JSON lines to this file instead of stdout; relative to the config file.')),
  }, { additionalProperties: false, description: 'The JSON log (pino).' })),
  admin: Type.Optional(Type.Object({
    enabled: Type.Optional(Type.Boolean({ description: 'Whether the admin listener runs.' })),
    address: Type.Optional(Type.String({ minLength: 1, description: 'The admin listener\'s address; loopback unless told otherwise, because it shows headers and can reload.' })),
    port: Type.Optional(field(Port, 'The admin listener\'s port.')),
    tokenEnv: Type.Optional(field(EnvName, 'An environment variable that holds a bearer token the admin API then requires.')),
    tokenFile: Type.Optional(field(FilePath, 'A file that holds a bearer token the admin API then requires.')),
    flowHistory: Type.Optional(Type.Integer({ minimum: 0, maximum: 2000, description: 'Exchanges the flow feed keeps: what a page that connects is shown first, and what /api/flows.har exports. A lesson to replay later must fit in it; each kept exchange costs the proxy a little garbage collection on every request.' })),
  }, { additionalProperties: false, description: 'The admin plane (metrics, health, routes, the teaching page): its own listener, internal only.' })),
  lab: Type.Optional(field(LabSchema, 'The lab that `lyncproxy lab` runs: stand-in Lync servers and their users.')),
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type ListenerConfig = Static<typeof ListenerSchema>
export type PoolConfig = Static<typeof PoolSchema>
export type RuleConfig = Static<typeof RuleSchema>
export type FaultConfig = Static<typeof FaultSchema>
export type CertificateConfig = Static<typeof CertificateSchema>
export type TimeoutsConfig = Static<typeof TimeoutsSchema>
export type LabConfig = Static<typeof LabSchema>
export type LabServerConfig = Static<typeof LabServerSchema>
export type TcpFrontendConfig = Static<typeof TcpFrontendSchema>
export type MemberConfig = Static<typeof MemberSchema>
