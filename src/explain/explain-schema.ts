// The shape of an explain result, as a TypeBox schema: `lyncproxy explain --json` prints it, the
// admin plane's /api/explain serializes it through this schema, and ExplainResult is derived from it
// (Static<>), so the code, the CLI and the API describe one object.
import { Type, type Static } from '@sinclair/typebox'
import { Nullable, StringEnum } from '../schema-types.js'

const Scheme = StringEnum(['http', 'https'])

export const RuleVerdictSchema = StringEnum(['matched', 'shadowed', 'other-listener', 'other-name', 'other-path'])
export type RuleVerdict = Static<typeof RuleVerdictSchema>

export const RuleTraceSchema = Type.Object({
  rule: Type.String(),
  index: Type.Integer(),
  implicit: Type.Boolean(),
  action: Type.String(),
  verdict: RuleVerdictSchema,
  why: Type.String(),
})
export type RuleTrace = Static<typeof RuleTraceSchema>

export const HeaderChangeSchema = Type.Object({ name: Type.String(), value: Type.String(), why: Type.String() })
export type HeaderChange = Static<typeof HeaderChangeSchema>

export const HeaderReplacementSchema = Type.Object({ name: Type.String(), from: Type.String(), to: Type.String(), why: Type.String() })
export type HeaderReplacement = Static<typeof HeaderReplacementSchema>

// A header field as it is on the wire: [name, value].
const HeaderField = Type.Tuple([Type.String(), Type.String()])

export const ExplainResultSchema = Type.Object({
  url: Type.String(),
  method: Type.String(),
  listener: Type.Object({ name: Type.String(), protocol: Scheme, address: Type.String(), port: Type.Integer() }),
  host: Type.String(),
  // The target as the proxy would forward it (normalized).
  path: Type.String(),
  publicName: Nullable(Type.String()),
  rules: Type.Array(RuleTraceSchema),
  outcome: Type.Object({
    action: StringEnum(['forward', 'redirect', 'deny', 'refused']),
    rule: Nullable(Type.String()),
    // What the client gets from the proxy itself (redirects, denials, refusals); 0 when forwarded.
    status: Type.Integer(),
    code: Nullable(Type.String()),
    reason: Type.String(),
  }),
  redirect: Nullable(Type.Object({ status: Type.Integer(), location: Type.String() })),
  upstream: Nullable(Type.Object({
    pool: Type.String(),
    role: Nullable(Type.String()),
    fqdn: Type.String(),
    scheme: Scheme,
    // One entry per member the pool may choose; a VIP pool has exactly one.
    targets: Type.Array(Type.Object({ member: Type.String(), address: Type.String(), port: Type.Integer(), url: Type.String() })),
    servername: Nullable(Type.String()),
    verifyTls: Type.Boolean(),
  })),
  headers: Nullable(Type.Object({
    received: Type.Array(HeaderField),
    forwarded: Type.Array(HeaderField),
    added: Type.Array(HeaderChangeSchema),
    replaced: Type.Array(HeaderReplacementSchema),
    removed: Type.Array(HeaderChangeSchema),
    kept: Type.Array(HeaderChangeSchema),
  })),
  timeouts: Type.Object({
    connectSeconds: Nullable(Type.Number()),
    responseSeconds: Nullable(Type.Number()),
    clientIdleSeconds: Type.Number(),
    requestHeadersSeconds: Type.Number(),
  }),
  seedRows: Type.Array(Type.Object({
    table: Type.String(),
    protocol: Type.String(),
    source: Type.String(),
    destination: Type.String(),
    description: Type.String(),
    served: Type.Boolean(),
  })),
})
export type ExplainResult = Static<typeof ExplainResultSchema>
