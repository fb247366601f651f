// The certificates the proxy serves: the lab set when the config asks for it, one SNI selector per
// https listener, the swap a reload makes on listeners already bound, and the list the admin plane
// reads (expiry metrics, the teaching page).
import type { ResolvedConfig } from '../config/defaults.js'
import { ensureLabCertificates, type LabCertificates } from '../tls/lab-certs.js'
import { loadCertificate, type LoadedCertificate } from '../tls/load.js'
import { serverTlsContextOptions } from '../tls/profile.js'
import { createSniSelector, type SniSelector } from '../tls/sni.js'
import { labCertificateRequest, needsLabCertificates } from './lab-cert-request.js'
import type { Listening } from './listening.js'

// A certificate an https listener serves, for expiry metrics and the teaching page.
export interface ServedCertificate {
  listener: string
  names: readonly string[]
  notAfter: Date
  source: string
}

// The lab certificates the config needs, created or renewed as it asks; `otherwise` when it needs none.
export async function labCertificatesFor (config: ResolvedConfig, otherwise: LabCertificates | undefined): Promise<LabCertificates | undefined> {
  return needsLabCertificates(config) ? await ensureLabCertificates(labCertificateRequest(config)) : otherwise
}

// The loaded certificates behind each selector, kept beside it rather than in it: only the admin
// plane asks, and the SNI selector stays what the handshake needs.
const certificatesOf = new WeakMap<SniSelector, LoadedCertificate[]>()

export async function loadListenerCertificates (config: ResolvedConfig, baseDir: string, lab: LabCertificates | undefined, env: NodeJS.ProcessEnv | undefined): Promise<Map<string, SniSelector>> {
  const out = new Map<string, SniSelector>()
  for (const listener of config.listeners) {
    if (listener.protocol !== 'https' || listener.certificates === undefined) continue
    const certs = []
    for (const c of listener.certificates) certs.push(await loadCertificate(c, { baseDir, lab, env: env ?? process.env }))
    const selector = createSniSelector(certs)
    certificatesOf.set(selector, certs)
    out.set(listener.name, selector)
  }
  return out
}

// Bound https listeners serve the new selectors from their next handshake on; connections already
// open keep the certificate they were given.
export function serveCertificates (listening: Listening, sniByListener: ReadonlyMap<string, SniSelector>, config: ResolvedConfig): void {
  for (const b of listening.bound) {
    const sni = sniByListener.get(b.name)
    const sniHolder = listening.sniHolders.get(b.name)
    if (sni !== undefined && sniHolder !== undefined) {
      sniHolder.current = sni
      b.state.coverage = sni
      const profile = config.listeners.find((l) => l.name === b.name)?.tlsProfile
      ;(b.server as unknown as { setSecureContext: (o: object) => void }).setSecureContext({ ...serverTlsContextOptions(profile), ...sni.defaultCertificate.secureContextOptions })
    }
  }
}

export function servedCertificates (sniByListener: ReadonlyMap<string, SniSelector>): ServedCertificate[] {
  const out: ServedCertificate[] = []
  for (const [listener, sni] of sniByListener) {
    for (const c of certificatesOf.get(sni) ?? []) out.push({ listener, names: c.names, notAfter: c.notAfter, source: c.source })
  }
  return out
}
