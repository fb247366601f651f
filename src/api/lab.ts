// startLab(): the whole lab inside a client's own test suite, the way Testcontainers or WireMock are
// used. Everything binds ephemeral ports on loopback, so parallel test files never clash and no
// privilege is needed; what a test needs to reach it comes back in one object: the URL of every
// published name, a dispatcher and a fetch that send those names to the proxy (no DNS, no hosts
// file), the lab CA to trust, the lab users, the admin URL, and close().
//
// The URLs are the real ones (https://webext.contoso.com/…, ports 443 and 80), because that is what
// the lab's own answers link to: autodiscover hands out https://webext.contoso.com/…, and a client
// under test must be able to follow it unchanged. The dispatcher connects 443 and 80 of every
// published name to the proxy's ephemeral https and http listeners, as a client's DNS and a NAT in
// front of a real reverse proxy would.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { Agent, buildConnector, fetch as undiciFetch, type Dispatcher } from 'undici'
import { deepFreeze, type ResolvedConfig } from '../config/defaults.js'
import { loadConfigFile, type LoadedConfig } from '../config/load.js'
import { withRuleFault } from '../config/rule-faults.js'
import type { FaultConfig } from '../config/schema.js'
import type { RunningProxy } from '../control/proxy.js'
import { withBrokenPreset } from '../lab/broken-presets.js'
import { startLab as startLabServers, type RunningLab } from '../lab/run.js'

export const DEFAULT_LAB_CONFIG_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/lab.yaml')

export interface StartLabOptions {
  // A lab configuration file; the package's config/lab.yaml by default.
  config?: string
  // Where the lab CA and certificates are kept (created on first use, then reused). By default the
  // config's certs.dir, which for an installed package is a per-user cache directory.
  certsDir?: string
  // pino level for the proxy's and the stand-ins' log lines; silent by default, as a test wants.
  logLevel?: string
  // Start the admin plane (teaching page, /metrics, /api/flows) on an ephemeral port too.
  admin?: boolean
  // Faults to inject from the start, by rule name (the same fields as rules.<name>.fault).
  faults?: Readonly<Record<string, FaultConfig>>
  // One classic reverse proxy mistake (lab/broken-presets.ts): bridge-443, redirect-lyncdiscover,
  // drop-host, short-timeout, tls-offload, pool-ntlm.
  broken?: string
  // 'ephemeral' (the default): every listener and stand-in on a port the system picks, so that
  // suites run side by side. 'configured': the config's own ports, as `npm start` binds them (moved
  // up by 10000 below 1024 for a user who may not bind there), for a lab that a browser or another
  // machine reaches at the port summaries' numbers: a lesson, a screenshot.
  ports?: 'ephemeral' | 'configured'
}

export interface LabUser {
  readonly sipUri: string
  readonly password: string
  readonly displayName?: string
}

export interface Lab {
  // Every exact published name → the base URL a client uses for it: https://<name> (and
  // http://<name> in `httpUrls`), reached through `dispatcher` or `fetch`.
  readonly urls: Readonly<Record<string, string>>
  readonly httpUrls: Readonly<Record<string, string>>
  // curl --connect-to entries (name:443:address:port, name:80:address:port) for every published
  // name, so that curl reaches the same URLs.
  readonly connectTo: readonly string[]
  // The proxy's external listeners as bound.
  readonly https: { readonly address: string, readonly port: number } | undefined
  readonly http: { readonly address: string, readonly port: number } | undefined
  // An undici dispatcher that connects every published name to the proxy and trusts the lab CA;
  // names the lab does not publish fail with ENOTFOUND instead of reaching the network.
  readonly dispatcher: Dispatcher
  // fetch() through that dispatcher.
  fetch (input: string | URL, init?: Parameters<typeof undiciFetch>[1]): ReturnType<typeof undiciFetch>
  // The lab CA, as PEM and as the file it is kept in.
  readonly ca: string
  readonly caFile: string
  readonly users: readonly LabUser[]
  readonly adminUrl: string | undefined
  // Turns a rule's injected faults on, changes them, or (with undefined) turns them off, through a
  // reload: requests already on their way finish as they started.
  setFault (rule: string, fault: FaultConfig | undefined): Promise<void>
  // The running proxy, for what the fields above do not cover (the exchange bus, reload).
  readonly proxy: RunningProxy
  close (): Promise<void>
}

export async function startLab (options: StartLabOptions = {}): Promise<Lab> {
  const loaded = await loadConfigFile(options.config ?? DEFAULT_LAB_CONFIG_FILE)
  const draft = structuredClone(loaded.config) as { -readonly [K in keyof ResolvedConfig]: ResolvedConfig[K] }
  if (options.certsDir !== undefined) draft.certs = { ...draft.certs, dir: path.resolve(options.certsDir) }
  draft.admin = { ...draft.admin, enabled: options.admin === true, port: 0 }
  let config = deepFreeze(draft) as ResolvedConfig
  for (const [rule, fault] of Object.entries(options.faults ?? {})) config = withRuleFault(config, rule, fault)
  if (options.broken !== undefined) config = withBrokenPreset(config, options.broken)
  const logger = pino({ level: options.logLevel ?? 'silent' })
  const running = await startLabServers({ ...loaded, config }, { logger, ephemeralPorts: options.ports !== 'configured' })
  let admin: { url: string, close (): Promise<void> } | undefined
  try {
    if (config.admin.enabled) admin = await (await import('../admin/server.js')).startAdminIfEnabled({ ...loaded, config }, running.proxy, logger)
  } catch (err) {
    await running.close()
    throw err
  }
  return labHandle(running, { ...loaded, config }, admin)
}

function labHandle (running: RunningLab, loaded: LoadedConfig, admin: { url: string, close (): Promise<void> } | undefined): Lab {
  const config = loaded.config
  const { proxy } = running
  const certs = proxy.labCerts
  if (certs === undefined) throw new Error('the lab started without its certificates')
  const names = [...new Set(config.rules.flatMap((r) => r.publicNames))].filter((n) => !n.includes('*'))
  const external = proxy.listeners.filter((l) => config.listeners.find((c) => c.name === l.name)?.interface !== 'internal')
  const https = external.find((l) => l.protocol === 'https')
  const http = external.find((l) => l.protocol === 'http')
  const urls: Record<string, string> = {}
  const httpUrls: Record<string, string> = {}
  const connectTo: string[] = []
  for (const name of names) {
    if (https !== undefined) { urls[name] = `https://${name}`; connectTo.push(`${name}:443:${https.address}:${https.port}`) }
    if (http !== undefined) { httpUrls[name] = `http://${name}`; connectTo.push(`${name}:80:${http.address}:${http.port}`) }
  }
  const where = (l: { address: string, port: number } | undefined): { address: string, port: number } | undefined => l === undefined ? undefined : { address: l.address, port: l.port }
  const dispatcher = labDispatcher(config, where(https), where(http), certs.caPem)
  return {
    urls,
    httpUrls,
    connectTo,
    https: where(https),
    http: where(http),
    dispatcher,
    fetch: (input, init) => undiciFetch(input, { ...init, dispatcher }),
    ca: certs.caPem,
    caFile: certs.caFile,
    users: (config.lab?.users ?? []).map((u) => ({ ...u })),
    adminUrl: admin?.url,
    async setFault (rule, fault) {
      // The running config, not the file's: the lab pointed its pools at the ports it bound.
      await proxy.reload({ ...loaded, config: withRuleFault(proxy.config(), rule, fault) })
    },
    proxy,
    async close () {
      await dispatcher.close()
      await admin?.close()
      await running.close()
    },
  }
}

// Connects a published name to the proxy's https listener for 443 and its http listener for 80,
// keeping the name for SNI and the certificate check, as a client whose DNS points at the proxy would.
function labDispatcher (config: ResolvedConfig, https: Listening | undefined, http: Listening | undefined, ca: string): Agent {
  const connector = buildConnector({ ca })
  const published = (host: string): boolean => {
    const name = host.toLowerCase()
    return config.rules.some((r) => r.publicNames.some((p) => p.startsWith('*.') ? name.endsWith(p.slice(1).toLowerCase()) : p.toLowerCase() === name))
  }
  return new Agent({
    connect (opts, callback) {
      const tls = opts.protocol === 'https:'
      const port = opts.port === '' ? (tls ? 443 : 80) : Number(opts.port)
      const listener = tls ? (port === 443 ? https : undefined) : (port === 80 ? http : undefined)
      if (!published(opts.hostname) || listener === undefined) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${opts.hostname} (the lab publishes no ${opts.protocol}//${opts.hostname}:${port})`), { code: 'ENOTFOUND' }), null)
        return
      }
      connector({ ...opts, hostname: listener.address, port: String(listener.port), servername: opts.hostname }, callback)
    },
  })
}

interface Listening { readonly address: string, readonly port: number }
