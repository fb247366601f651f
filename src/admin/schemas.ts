// JSON schemas of the admin API: fastify validates the inputs with them and serializes the answers
// through them, and they document the API in one place.
const str = { type: 'string' } as const
const num = { type: 'number' } as const
const int = { type: 'integer' } as const
const bool = { type: 'boolean' } as const
const strArray = { type: 'array', items: str } as const
const nullable = (schema: object): object => ({ anyOf: [schema, { type: 'null' }] })
const anyObject = { type: 'object', additionalProperties: true } as const
const errorBody = { type: 'object', properties: { error: str, message: str } } as const

// Every GET route accepts ?token= (browsers cannot send the bearer header on page loads or
// EventSource). POST routes take it from the Authorization header only (src/admin/auth.ts).
const tokenQuery = { type: 'object', properties: { token: str }, additionalProperties: false } as const

export const healthzSchema = {
  description: 'Liveness: the process answers. Never needs the token.',
  response: { 200: { type: 'object', properties: { status: str, uptimeSeconds: num } } },
}

const poolHealth = {
  type: 'object',
  properties: {
    name: str,
    kind: str,
    // unchecked: a VIP pool, whose health is its load balancer's business.
    health: { type: 'string', enum: ['up', 'down', 'unchecked'] },
    members: { type: 'array', items: { type: 'object', properties: { name: str, address: str, up: bool } } },
  },
} as const

const readyBody = {
  type: 'object',
  properties: {
    ready: bool,
    table: { type: 'object', properties: { loaded: bool, generation: int } },
    listeners: { type: 'array', items: { type: 'object', properties: { name: str, protocol: str, address: str, port: int, listening: bool, connections: int } } },
    pools: { type: 'array', items: poolHealth },
    // Only with workers > 1: each worker slot, its process and whether it is ready.
    workers: { type: 'array', items: { type: 'object', properties: { worker: int, pid: nullable(int), ready: bool, generation: nullable(int) } } },
  },
} as const

export const readyzSchema = {
  description: 'Readiness: the listeners are bound and a routing table is loaded; per-pool health. With workers > 1, ready while at least one worker serves and the node is not stopping.',
  querystring: tokenQuery,
  response: { 200: readyBody, 503: readyBody },
}

export const metricsSchema = {
  description: 'Prometheus metrics in the text exposition format.',
  querystring: tokenQuery,
  response: { 200: str },
}

const routeView = {
  type: 'object',
  properties: {
    rule: str,
    index: int,
    implicit: bool,
    action: { type: 'string', enum: ['forward', 'redirect', 'deny'] },
    paths: strArray,
    pool: nullable(str),
    scheme: nullable(str),
    ports: { type: 'array', items: int },
    timeouts: { type: 'object', properties: { connectSeconds: num, responseSeconds: num } },
    longPoll: bool,
    redirect: nullable({ type: 'object', properties: { status: int, port: str } }),
  },
} as const

export const routesSchema = {
  description: 'The compiled routing table: listeners → published names → rules in order → action, pool, bridged ports, timeouts.',
  querystring: tokenQuery,
  response: {
    200: {
      type: 'object',
      properties: {
        generation: int,
        listeners: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: str,
              protocol: str,
              interface: str,
              address: str,
              port: int,
              names: { type: 'array', items: { type: 'object', properties: { name: str, kind: str, rules: { type: 'array', items: routeView } } } },
            },
          },
        },
        pools: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: str,
              role: nullable(str),
              description: nullable(str),
              fqdn: str,
              kind: str,
              members: { type: 'array', items: { type: 'object', properties: { name: str, address: str, httpPort: int, httpsPort: int, up: bool } } },
            },
          },
        },
        tcp: { type: 'array', items: { type: 'object', properties: { name: str, address: str, port: int, pool: str, targetPort: int } } },
      },
    },
  },
}

export const configSchema = {
  description: 'The running configuration with defaults applied; secret locations and lab passwords are redacted.',
  querystring: tokenQuery,
  response: { 200: anyObject },
}

export const explainSchema = {
  description: 'What the proxy would do with a request for `url`: rules tried, action, upstream URL, header changes, timeouts, port summary rows.',
  querystring: {
    type: 'object',
    required: ['url'],
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 8192 },
      listener: { type: 'string', minLength: 1, maxLength: 64 },
      client: { type: 'string', minLength: 1, maxLength: 64 },
      method: { type: 'string', pattern: '^[A-Za-z]{1,16}$' },
      // Extra request header fields, each 'Name: value'.
      header: { type: 'array', items: { type: 'string', maxLength: 8192 }, maxItems: 50 },
      token: str,
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        url: str,
        method: str,
        listener: anyObject,
        host: str,
        path: str,
        publicName: nullable(str),
        rules: { type: 'array', items: { type: 'object', properties: { rule: str, index: int, implicit: bool, action: str, verdict: str, why: str } } },
        outcome: { type: 'object', properties: { action: str, rule: nullable(str), status: int, code: nullable(str), reason: str } },
        redirect: nullable(anyObject),
        upstream: nullable(anyObject),
        headers: nullable(anyObject),
        timeouts: anyObject,
        seedRows: { type: 'array', items: anyObject },
      },
    },
    400: errorBody,
  },
}

export const flowsSchema = {
  description: 'Server-Sent Events: one `exchange` event per finished exchange (JSON record); `dropped` when a slow client lost records. Not with workers > 1 (501).',
  querystring: tokenQuery,
  response: { 501: errorBody },
}

export const trafficSchema = {
  description: 'Per listener, rule and pool: requests since start and the last status (the diagram\'s edge labels).',
  querystring: tokenQuery,
  response: {
    200: {
      type: 'array',
      items: {
        type: 'object',
        properties: { listener: str, rule: str, pool: str, requests: int, lastStatus: int, lastError: str, lastUpstream: str, lastTime: num },
      },
    },
  },
}

export const portsSchema = {
  description: 'The firewall tables of the running topology in the columns of Microsoft\'s port summaries.',
  querystring: tokenQuery,
  response: { 200: anyObject },
}

export const reloadSchema = {
  description: 'Re-read the configuration file, as SIGHUP does. A bad file leaves the running table in place. Body: none, or JSON (ignored).',
  response: {
    200: { type: 'object', properties: { ok: bool, file: str, generation: int, errors: strArray } },
    409: { type: 'object', properties: { ok: bool, file: str, generation: int, errors: strArray } },
    422: { type: 'object', properties: { ok: bool, file: str, generation: int, errors: strArray } },
  },
}

const drainResult = { type: 'object', properties: { pool: str, member: str, draining: bool, active: int } }

export const drainSchema = {
  description: 'Take a pool member out of rotation (drain) or put it back (undrain); its requests in flight finish. Body: none, or JSON (ignored).',
  params: {
    type: 'object',
    required: ['pool', 'member', 'action'],
    properties: { pool: str, member: str, action: { type: 'string', enum: ['drain', 'undrain'] } },
  },
  response: {
    200: drainResult,
    404: { type: 'object', properties: { error: str } },
  },
}

export const pageSchema = {
  description: 'The teaching page.',
  querystring: tokenQuery,
}

export const assetSchema = {
  description: 'The teaching page\'s script and style sheet.',
  params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: ['app.js', 'style.css'] } } },
  querystring: tokenQuery,
}
