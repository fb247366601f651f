// The reverse proxy as admins actually misconfigure it, for client developers who must know how
// their client behaves behind one, and for teaching what each mistake breaks. Each preset turns the
// lab's config into one classic mistake; `lyncproxy probe` against it fails with that mistake's
// cause (test/broken-presets.test.ts), and against the clean lab it passes.
import { deepFreeze, type ResolvedConfig } from '../config/defaults.js'
import { LyncProxyError } from '../errors.js'

type Draft = { -readonly [K in keyof ResolvedConfig]: ResolvedConfig[K] }

interface Preset {
  readonly what: string
  apply (config: Draft): void
}

// Rules of the external HTTPS listener that forward to the Lync pools (not Office Web Apps, which
// Microsoft publishes 443 to 443).
function lyncHttpsRules (config: Draft): Array<Draft['rules'][number]> {
  const external = new Set(config.listeners.filter((l) => l.interface !== 'internal' && l.protocol === 'https').map((l) => l.name))
  return config.rules.filter((r) => r.action === 'forward' && r.pool !== undefined &&
    config.pools[r.pool]?.role !== 'owas' && r.listeners.some((l) => external.has(l)))
}

export const BROKEN_PRESETS: Readonly<Record<string, Preset>> = {
  'bridge-443': {
    what: 'HTTPS 443 bridged to the pools\' 443 (their internal site) instead of 4443: the servers see internal traffic, and autodiscover answers AccessLocation Internal',
    apply (config) {
      config.rules = config.rules.map((r) => lyncHttpsRules(config).includes(r) ? { ...r, bridge: { ...r.bridge, https: 443 } } : r)
    },
  },
  'redirect-lyncdiscover': {
    what: 'lyncdiscover on port 80 redirected to HTTPS instead of forwarded to the pool\'s 8080: mobile clients that try HTTP first fail',
    apply (config) {
      const http = new Set(config.listeners.filter((l) => l.interface !== 'internal' && l.protocol === 'http').map((l) => l.name))
      // Without its HTTP rule, lyncdiscover gets the listener's implicit redirect to HTTPS.
      config.rules = config.rules.filter((r) => !(r.action === 'forward' && r.listeners.every((l) => http.has(l)) &&
        r.publicNames.some((n) => n.toLowerCase().startsWith('lyncdiscover.'))))
    },
  },
  'drop-host': {
    what: 'the Host header replaced by the pool\'s name (TMG\'s "Forward the original host header" cleared): meet and dialin, which Lync routes by Host, no longer reach their pages',
    apply (config) {
      config.rules = config.rules.map((r) => lyncHttpsRules(config).includes(r) ? { ...r, preserveHost: false } : r)
    },
  },
  'short-timeout': {
    what: 'the long-poll rule (/ucwa, /mcx) left at a 60 s response timeout, as nginx\'s proxy_read_timeout has it by default: every UCWA event channel held longer is cut with 504; only lyncproxy probe --long-poll 90 sees it',
    apply (config) {
      config.rules = config.rules.map((r) => r.longPoll === true ? { ...r, timeouts: { ...r.timeouts, response: 60 } } : r)
    },
  },
  'tls-offload': {
    what: 'HTTPS decrypted at the proxy and sent on to the pools\' HTTP port 8080 (TMG bridging to the HTTP port): autodiscover answers over HTTPS only with a Redirect to HTTPS, so clients go round in a loop',
    apply (config) {
      config.rules = config.rules.map((r) => lyncHttpsRules(config).includes(r) ? { ...r, bridge: { ...r.bridge, offloadTls: true } } : r)
    },
  },
  'pool-ntlm': {
    what: 'NTLM requests sent over the pooled connections, as ARR and an nginx with keepalive send them: a type 3 lands on another pool connection than its challenge, and a connection another client authenticated serves requests without credentials',
    apply (config) {
      config.rules = config.rules.map((r) => lyncHttpsRules(config).includes(r) ? { ...r, pinConnectionAuth: false } : r)
    },
  },
}

export function brokenPresetNames (): string[] {
  return Object.keys(BROKEN_PRESETS)
}

// The config with one preset's mistake made. Unknown names are a usage error naming the presets.
export function withBrokenPreset (config: ResolvedConfig, name: string): ResolvedConfig {
  const preset = BROKEN_PRESETS[name]
  if (preset === undefined) {
    throw new LyncProxyError('LRP_ERR_USAGE', `no preset called ${name}`, { fix: `use one of ${brokenPresetNames().join(', ')}` })
  }
  const draft = structuredClone(config) as Draft
  preset.apply(draft)
  return deepFreeze(draft) as ResolvedConfig
}
