// `lyncproxy lab`: the proxy and the stand-in Lync servers behind it, all on loopback. The stand-ins
// listen on their pools' addresses and real ports (8080/4443, 80/443), so the port summary holds as
// written; tests ask for ephemeral ports instead and the pools are pointed at what was bound.
import type { LoadedConfig } from '../config/load.js'
import { deepFreeze, type ResolvedConfig } from '../config/defaults.js'
import { labCertificateRequest } from '../control/lab-cert-request.js'
import { startProxy, type RunningProxy } from '../control/proxy.js'
import type { Logger } from '../observe/logger.js'
import { ensureLabCertificates } from '../tls/lab-certs.js'
import { startStandIn } from './standin/index.js'
import type { RunningStandIn, StandInSpec } from './standin/types.js'
import { standInSpecs } from './topology.js'

export interface LabOptions {
  logger: Logger
  // Bind every stand-in site on port 0 and point the pools at the bound ports (tests).
  ephemeralPorts?: boolean
  env?: NodeJS.ProcessEnv
}

export interface RunningLab {
  proxy: RunningProxy
  standIns: RunningStandIn[]
  // Notes for the operator, such as sites skipped for want of privilege.
  notes: string[]
  close (): Promise<void>
}

export async function startLab (loaded: LoadedConfig, options: LabOptions): Promise<RunningLab> {
  const certs = await ensureLabCertificates(labCertificateRequest(loaded.config))
  const notes: string[] = []
  const standIns: RunningStandIn[] = []
  const specs = standInSpecs(loaded.config, certs)
  try {
    for (const spec of specs) standIns.push(await startStandInWithFallback(options.ephemeralPorts === true ? withEphemeralPorts(spec) : spec, notes))
  } catch (err) {
    await Promise.all(standIns.map((s) => s.close()))
    throw err
  }
  let config = loaded.config
  if (options.ephemeralPorts === true) config = pointPoolsAt(config, standIns)
  let proxy: RunningProxy
  try {
    proxy = await startProxy({ ...loaded, config }, { logger: options.logger, labCerts: certs, ...(options.env === undefined ? {} : { env: options.env }) })
  } catch (err) {
    await Promise.all(standIns.map((s) => s.close()))
    throw err
  }
  return {
    proxy,
    standIns,
    notes,
    async close () {
      await proxy.close(0)
      await Promise.all(standIns.map((s) => s.close()))
    },
  }
}

// Internal sites sit on 80/443; without privilege the lab still runs, with the external sites only.
async function startStandInWithFallback (spec: StandInSpec, notes: string[]): Promise<RunningStandIn> {
  try {
    return await startStandIn(spec)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err
    const allowed = spec.sites.filter((s) => s.port === 0 || s.port >= 1024)
    const skipped = spec.sites.filter((s) => !allowed.includes(s))
    if (allowed.length === 0) throw err
    notes.push(`${spec.member}: not privileged to bind ${skipped.map((s) => `${s.kind} ${s.protocol}/${s.port}`).join(', ')} on ${spec.address}; those sites are skipped`)
    return startStandIn({ ...spec, sites: allowed })
  }
}

function withEphemeralPorts (spec: StandInSpec): StandInSpec {
  return { ...spec, sites: spec.sites.map((s) => ({ ...s, port: 0 })) }
}

// The pool of each stand-in now answers on the ports its external sites were given.
function pointPoolsAt (config: ResolvedConfig, running: RunningStandIn[]): ResolvedConfig {
  const copy = structuredClone(config) as { pools: Record<string, { httpPort: number, httpsPort: number }>, lab?: { servers?: Array<{ name: string, pool: string }> } }
  for (const standIn of running) {
    const server = copy.lab?.servers?.find((s) => s.name === standIn.member)
    const pool = server === undefined ? undefined : copy.pools[server.pool]
    if (pool === undefined) continue
    const external = standIn.sites.filter((s) => s.kind === 'external')
    const http = external.find((s) => s.protocol === 'http')
    const https = external.find((s) => s.protocol === 'https')
    if (http !== undefined) pool.httpPort = http.port
    if (https !== undefined) pool.httpsPort = https.port
  }
  return deepFreeze(copy as unknown as ResolvedConfig) as ResolvedConfig
}
