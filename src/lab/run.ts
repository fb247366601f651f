// `lyncproxy lab`: the proxy and the stand-in Lync servers behind it, all on loopback. The stand-ins
// listen on their pools' addresses and real ports (8080/4443, 80/443), so the port summaries hold as
// written; tests ask for ephemeral ports instead, and every pool is pointed at what was bound.
// Without privilege, the ports below 1024 move up together (unprivileged-ports.ts).
import { deepFreeze, type ResolvedConfig } from '../config/defaults.js'
import type { LoadedConfig } from '../config/load.js'
import { labCertificateRequest } from '../control/lab-cert-request.js'
import { startProxy, type RunningProxy } from '../control/proxy.js'
import { listenErrno, listenError } from '../errors.js'
import type { Logger } from '../observe/logger.js'
import { ensureLabCertificates, type LabCertificates } from '../tls/lab-certs.js'
import { startEcho, type EchoServer } from './echo.js'
import { withFreshPortsOnClash } from './port-clash.js'
import { applyOneAddress, portsForOneAddress, singleAddressNote, standInOnOneAddress, unbindableLoopbackAddresses } from './single-address.js'
import { createPoolState, startStandIn } from './standin/index.js'
import type { RunningStandIn, StandInSpec } from './standin/types.js'
import { standInSpecs } from './topology.js'
import { canBindPrivilegedPorts, movePrivilegedPorts, unprivilegedPort } from './unprivileged-ports.js'

export interface LabOptions {
  logger: Logger
  // Bind everything on port 0 and point the pools at the bound ports (tests).
  ephemeralPorts?: boolean
  env?: NodeJS.ProcessEnv
}

export interface RunningLab {
  proxy: RunningProxy
  standIns: RunningStandIn[]
  echoes: EchoServer[]
  // Notes for the operator, such as ports moved for want of privilege.
  notes: string[]
  // The file's config as this lab adjusted it at start (ports moved for want of privilege), for a
  // reload of the file to make the same adjustments.
  prepare (config: ResolvedConfig): ResolvedConfig
  // Requests in flight may finish for graceMs (0: at once).
  close (graceMs?: number): Promise<void>
}

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> }
type Draft = Mutable<ResolvedConfig>

export async function startLab (loaded: LoadedConfig, options: LabOptions): Promise<RunningLab> {
  const ephemeral = options.ephemeralPorts === true
  const certs = await ensureLabCertificates(labCertificateRequest(loaded.config))
  const notes: string[] = []
  const draft = structuredClone(loaded.config) as Draft
  const unprivileged = !ephemeral && !await canBindPrivilegedPorts()
  if (unprivileged) {
    const note = movePrivilegedPorts(draft)
    if (note !== undefined) notes.push(note)
  }
  // Tests bind port 0 on the topology's addresses; a lab for people falls back to 127.0.0.1 alone
  // where those addresses are missing (single-address.ts).
  const missing = ephemeral ? [] : await unbindableLoopbackAddresses(draft)
  const serverPorts = [80, 443].map((p) => unprivileged ? unprivilegedPort(p) : p)
  const oneAddress = missing.length === 0 ? undefined : await portsForOneAddress(draft, serverPorts)
  if (oneAddress !== undefined) {
    applyOneAddress(draft, oneAddress, serverPorts)
    notes.push(singleAddressNote(missing, oneAddress))
  }
  const standIns: RunningStandIn[] = []
  const echoes: EchoServer[] = []
  const closeBackends = async (): Promise<void> => { await Promise.all([...standIns.map((s) => s.close()), ...echoes.map((e) => e.close())]) }
  try {
    const poolOf = (member: string): string => loaded.config.lab?.servers?.find((s) => s.name === member)?.pool ?? member
    const byPool = new Map<string, StandInSpec[]>()
    for (const configured of standInSpecs(draft, certs)) {
      // The servers' internal IIS sites are always 80/443 (topology.ts); they move with the rest.
      const shifted = unprivileged ? { ...configured, sites: configured.sites.map((s) => ({ ...s, port: unprivilegedPort(s.port) })) } : configured
      const pool = poolOf(shifted.member)
      const spec = oneAddress === undefined ? shifted : standInOnOneAddress(shifted, draft, pool)
      byPool.set(pool, [...(byPool.get(pool) ?? []), spec])
    }
    const site = (spec: StandInSpec): StandInSite => ({ config: loaded.config, file: loaded.file, spec })
    for (const specs of byPool.values()) {
      standIns.push(...await withFreshPortsOnClash(ephemeral, () => startPoolStandIns(specs.map(site), ephemeral)))
    }
    await startLayer4Echoes(draft, certs, ephemeral, echoes, loaded.file)
  } catch (err) {
    await closeBackends()
    throw err
  }
  const configuredPorts = new Map(draft.listeners.map((l) => [l.name, l.port]))
  if (ephemeral) {
    for (const l of draft.listeners) l.port = 0
    pointPoolsAtStandIns(draft, standIns)
  }
  let proxy: RunningProxy
  try {
    // deepFreeze freezes in place: hand the proxy a copy, the draft is adjusted again below.
    proxy = await startProxy({ ...loaded, config: deepFreeze(structuredClone(draft)) as ResolvedConfig }, { logger: options.logger, labCerts: certs, ...(options.env === undefined ? {} : { env: options.env }) })
    // A vip pool whose address is one of our own listeners (the Director's HLB VIP) follows the
    // ports those listeners were given.
    if (ephemeral && pointVipPoolsAtListeners(draft, proxy, configuredPorts)) await proxy.reload({ ...loaded, config: deepFreeze(structuredClone(draft)) as ResolvedConfig })
  } catch (err) {
    await closeBackends()
    throw err
  }
  return {
    proxy,
    standIns,
    echoes,
    notes,
    prepare (config) {
      if (!unprivileged && oneAddress === undefined) return config
      const moved = structuredClone(config) as Draft
      if (unprivileged) movePrivilegedPorts(moved)
      if (oneAddress !== undefined) applyOneAddress(moved, oneAddress, serverPorts)
      return deepFreeze(moved) as ResolvedConfig
    },
    async close (graceMs = 0) {
      await proxy.close(graceMs)
      await closeBackends()
    },
  }
}

// A stand-in to start, with what its listen errors need: the config and file its ports come from.
export interface StandInSite {
  config: ResolvedConfig
  file: string
  spec: StandInSpec
  // Where `lyncproxy standin --address` put it instead of the pool's address.
  addressOption?: string
}

const ROLE_NAMES = { frontend: 'Front End', director: 'Director', owas: 'Office Web Apps' } as const

// A stand-in's failed listen as a coded error that names the server, the site and the settings
// that move it. Anything that is not a listen failure passes through unchanged.
export function standInListenError (err: unknown, { config, file, spec, addressOption }: StandInSite): unknown {
  const errno = listenErrno(err)
  if (errno === undefined) return err
  const failedPort = (err as { port?: unknown }).port
  const site = spec.sites.find((s) => s.port === failedPort) ?? (spec.sites.length === 1 ? spec.sites[0] : undefined)
  const poolId = config.lab?.servers?.find((s) => s.name === spec.member)?.pool
  const pool = poolId === undefined ? undefined : config.pools[poolId]
  const memberIndex = pool?.kind === 'members' ? pool.members.findIndex((m) => m.name === spec.member) : -1
  const owner = memberIndex >= 0 ? `member ${spec.member} of pool ${poolId ?? ''}` : `pool ${poolId ?? spec.member}`
  const addressSetting = addressOption !== undefined ? 'give --address another value' : `change the address: of ${owner} in ${file}`
  const key = site?.protocol === 'http' ? 'httpPort' : 'httpsPort'
  const portSetting = site?.kind === 'internal'
    // Lync's internal IIS site: 80/443 on every Front End and Director server, not configurable.
    ? `the internal sites of a ${ROLE_NAMES[spec.role]} stand-in always use ports 80 and 443, so give the server an address of its own: ${addressSetting}`
    : `change ${site === undefined ? 'httpPort: / httpsPort:' : key + ':'} of pool ${poolId ?? ''}${memberIndex >= 0 ? `, or give member ${spec.member} its own,` : ''} in ${file}`
  const location = poolId === undefined ? { file } : { file, path: memberIndex >= 0 ? `/pools/${poolId}/members/${memberIndex}` : `/pools/${poolId}` }
  return listenError(err, {
    what: `stand-in ${spec.member} (${ROLE_NAMES[spec.role]}${site === undefined ? '' : `, ${site.kind} ${site.protocol} site`})`,
    address: typeof (err as { address?: unknown }).address === 'string' ? (err as { address: string }).address : spec.address,
    port: typeof failedPort === 'number' ? failedPort : site?.port ?? 0,
    location,
    portSetting,
    addressSetting,
  })
}

// A pool's members share one state (UCWA applications, event channels). All of them start, or none
// is left listening.
async function startPoolStandIns (sites: readonly StandInSite[], ephemeral: boolean): Promise<RunningStandIn[]> {
  const first = sites[0]
  if (first === undefined) return []
  const shared = createPoolState(first.spec.topology)
  const started: RunningStandIn[] = []
  try {
    for (const site of sites) {
      const placed = ephemeral ? { ...site, spec: withEphemeralPorts(site.spec, started[0]) } : site
      started.push(await startStandIn(placed.spec, shared).catch((err: unknown) => { throw standInListenError(err, placed) }))
    }
    return started
  } catch (err) {
    await Promise.all(started.map((s) => s.close()))
    throw err
  }
}

// A rule bridges every member of a pool to one internal port (80/443 on real servers), so the first
// member of a pool picks free ports and the others take the same internal ones on their own address.
function withEphemeralPorts (spec: StandInSpec, sibling: RunningStandIn | undefined): StandInSpec {
  const internalPort = (s: StandInSpec['sites'][number]): number =>
    s.kind === 'internal' ? (sibling?.sites.find((b) => b.kind === 'internal' && b.protocol === s.protocol)?.port ?? 0) : 0
  return { ...spec, sites: spec.sites.map((s) => ({ ...s, port: internalPort(s) })) }
}

function internalCert (certs: LabCertificates, pool: string): { cert: string, key: string } {
  const c = certs.internal.get(pool)
  if (c === undefined) throw new Error(`no lab certificate for pool ${pool}`)
  return c
}

// One member's echo behind a tcp frontend, its listen failure told with the settings that move it.
async function startMemberEcho (o: { frontend: ResolvedConfig['tcp'][number], index: number, member: { name: string, address: string }, port: number, certs: LabCertificates, file: string }): Promise<EchoServer> {
  const { frontend, index, member, port } = o
  return await startEcho(member.name, member.address, port, internalCert(o.certs, frontend.pool)).catch((err: unknown) => {
    throw listenErrno(err) === undefined ? err : listenError(err, {
      what: `echo server ${member.name} (the lab's stand-in behind tcp frontend ${frontend.name})`,
      address: member.address,
      port,
      location: { file: o.file, path: `/pools/${frontend.pool}/members/${index}` },
      portSetting: `change targetPort: of tcp frontend ${frontend.name} (its port: when unset) in ${o.file}`,
      addressSetting: `change the address: of member ${member.name} of pool ${frontend.pool} in ${o.file}`,
    })
  })
}

// One echo server per member of every layer-4 pool, on the frontend's target port. With ephemeral
// ports the first member picks a free port and the others take the same one on their own address,
// because a frontend has one target port for all members.
// The echoes go into `echoes` as they start, so that the caller closes them if a later one fails.
async function startLayer4Echoes (draft: Draft, certs: LabCertificates, ephemeral: boolean, echoes: EchoServer[], file: string): Promise<void> {
  for (const frontend of draft.tcp) {
    const pool = draft.pools[frontend.pool]
    if (pool === undefined) continue
    const started = await withFreshPortsOnClash(ephemeral, async () => {
      const mine: EchoServer[] = []
      let port = ephemeral ? 0 : frontend.targetPort
      try {
        for (const [index, member] of pool.members.entries()) {
          // On one address each member has the target port at a port of its own.
          const own = ephemeral ? port : member.portMap?.[String(frontend.targetPort)] ?? frontend.targetPort
          const echo = await startMemberEcho({ frontend, index, member, port: own, certs, file })
          mine.push(echo)
          port = echo.port
        }
        return mine
      } catch (err) {
        await Promise.all(mine.map((e) => e.close()))
        throw err
      }
    })
    echoes.push(...started)
    if (ephemeral) {
      frontend.targetPort = started[0]?.port ?? 0
      frontend.port = 0
    }
  }
}

// The echoes of one lab server run alone (`lyncproxy standin`, a container): one behind each tcp
// frontend whose pool has it as a member, on the frontend's target port, at `address` when given
// (0.0.0.0 in a container) and otherwise at the member's own.
export async function startServerEchoes (config: ResolvedConfig, certs: LabCertificates, file: string, server: string, address?: string): Promise<EchoServer[]> {
  const echoes: EchoServer[] = []
  try {
    for (const frontend of config.tcp) {
      const members = config.pools[frontend.pool]?.members ?? []
      const index = members.findIndex((m) => m.name === server)
      const member = members[index]
      if (member === undefined) continue
      echoes.push(await startMemberEcho({ frontend, index, member: { name: member.name, address: address ?? member.address }, port: frontend.targetPort, certs, file }))
    }
    return echoes
  } catch (err) {
    await Promise.all(echoes.map((e) => e.close()))
    throw err
  }
}

function pointPoolsAtStandIns (draft: Draft, running: RunningStandIn[]): void {
  for (const standIn of running) {
    const server = draft.lab?.servers?.find((s) => s.name === standIn.member)
    const pool = server === undefined ? undefined : draft.pools[server.pool]
    if (pool === undefined) continue
    const external = standIn.sites.filter((s) => s.kind === 'external')
    const http = external.find((s) => s.protocol === 'http')?.port
    const https = external.find((s) => s.protocol === 'https')?.port
    const target = pool.kind === 'members' ? pool.members.find((m) => m.name === standIn.member) : pool
    if (target === undefined) continue
    if (http !== undefined) target.httpPort = http
    if (https !== undefined) target.httpsPort = https
    if (pool.kind === 'vip' && pool.members[0] !== undefined) {
      if (http !== undefined) pool.members[0].httpPort = http
      if (https !== undefined) pool.members[0].httpsPort = https
    }
    // The HLB rules bridge to the servers' internal site on 80/443: follow where it went.
    const internalHttp = standIn.sites.find((s) => s.kind === 'internal' && s.protocol === 'http')?.port
    const internalHttps = standIn.sites.find((s) => s.kind === 'internal' && s.protocol === 'https')?.port
    for (const rule of draft.rules) {
      if (rule.pool !== server?.pool || rule.bridge === undefined) continue
      if (rule.bridge.http === 80 && internalHttp !== undefined) rule.bridge.http = internalHttp
      if (rule.bridge.https === 443 && internalHttps !== undefined) rule.bridge.https = internalHttps
    }
  }
}

function pointVipPoolsAtListeners (draft: Draft, proxy: RunningProxy, configuredPorts: Map<string, number>): boolean {
  let changed = false
  for (const [id, pool] of Object.entries(draft.pools)) {
    if (pool.kind !== 'vip') continue
    const mine = proxy.listeners.filter((l) => l.address === pool.address)
    if (mine.length === 0) continue
    // The VIP listener that carried the pool's configured port now has an ephemeral one.
    const configured = (protocol: 'http' | 'https', port: number): number | undefined =>
      mine.find((l) => l.protocol === protocol && configuredPorts.get(l.name) === port)?.port
    const http = configured('http', pool.httpPort)
    const https = configured('https', pool.httpsPort)
    if (http !== undefined) { pool.httpPort = http; pool.members[0]!.httpPort = http; changed = true }
    if (https !== undefined) { pool.httpsPort = https; pool.members[0]!.httpsPort = https; changed = true }
    // A rule that bridges to another of the VIP's ports (443 instead of 4443, the classic mistake a
    // test may reproduce) follows that listener too.
    for (const rule of draft.rules) {
      if (rule.pool !== id || rule.bridge === undefined) continue
      const bridgedHttp = rule.bridge.http === undefined ? undefined : configured('http', rule.bridge.http)
      const bridgedHttps = rule.bridge.https === undefined ? undefined : configured('https', rule.bridge.https)
      if (bridgedHttp !== undefined) { rule.bridge.http = bridgedHttp; changed = true }
      if (bridgedHttps !== undefined) { rule.bridge.https = bridgedHttps; changed = true }
    }
  }
  return changed
}
