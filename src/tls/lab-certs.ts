// The lab's own small PKI: one CA that a tester trusts once, and server certificates issued from
// it for the public names (the proxy's listener) and for each stand-in internal server. Reissuing on
// every start would force testers to re-import certificates and would break pinned connections, so
// what is on disk is reused for as long as it is still right.
import { X509Certificate, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { generate as Generate } from 'selfsigned'
import { LyncProxyError } from '../errors.js'
import { certificateNames, normalizeName } from './names.js'

export interface LabCertificateFiles {
  cert: string
  key: string
  certFile: string
  keyFile: string
}

export interface LabCertificates {
  caFile: string
  caPem: string
  external: LabCertificateFiles
  internal: Map<string, LabCertificateFiles>
}

export interface LabCertificateOptions {
  dir: string
  externalNames: string[]
  internal: Array<{ id: string, names: string[] }>
}

const DAY_MS = 86_400_000
// Apple platforms and browsers refuse server certificates valid for more than 398 days; 365 keeps
// clear of that limit even with the backdated start below.
const LEAF_DAYS = 365
const CA_DAYS = 3650
// Renewing a month ahead means a lab that is started now and then never meets an expired cert.
const RENEW_BEFORE_MS = 30 * DAY_MS
// Backdating tolerates a client whose clock runs a little behind the proxy host's.
const BACKDATE_MS = 60 * 60_000
const KEY_BITS = 2048
const MANIFEST = 'lab-certs.json'
const CA_CERT = 'lab-ca.pem'
const CA_KEY = 'lab-ca.key'
// Same shape as a config identifier, which also keeps ids from escaping the directory.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

interface Manifest {
  version: 1
  ca?: { fingerprint256: string }
  leaves: Record<string, { names: string[], fingerprint256: string }>
}

interface Ca { pem: string, keyPem: string, x509: X509Certificate }

interface LeafSpec { base: string, names: string[] }

// Calls for one directory run one after another: two listeners starting at once must not each
// mint a CA and leave the other holding certificates that the CA on disk did not sign.
const queues = new Map<string, Promise<void>>()

export function ensureLabCertificates (opts: LabCertificateOptions): Promise<LabCertificates> {
  const dir = path.resolve(opts.dir)
  const previous = queues.get(dir) ?? Promise.resolve()
  const run = previous.then(() => ensureInDir(dir, opts))
  const settled = run.then(() => undefined, () => undefined)
  queues.set(dir, settled)
  void settled.then(() => { if (queues.get(dir) === settled) queues.delete(dir) })
  return run
}

function cleanNames (names: string[], what: string): string[] {
  const out = [...new Set(names.map(normalizeName).filter((n) => n !== ''))]
  if (out.length === 0) throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `the lab certificate for ${what} has no names`, { fix: 'give at least one DNS name' })
  return out
}

function leafSpecs (opts: LabCertificateOptions): LeafSpec[] {
  const specs: LeafSpec[] = [{ base: 'external', names: cleanNames(opts.externalNames, 'the public names') }]
  const seen = new Set<string>()
  for (const { id, names } of opts.internal) {
    if (!ID_PATTERN.test(id)) {
      throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `"${id}" cannot name a lab certificate file`, { fix: 'use letters, digits, . _ - (at most 63 characters)' })
    }
    if (seen.has(id)) throw new LyncProxyError('LRP_ERR_CONFIG_CONFLICT', `two internal lab certificates are both named "${id}"`, { fix: 'give each internal certificate its own id' })
    seen.add(id)
    specs.push({ base: `internal-${id}`, names: cleanNames(names, `internal server "${id}"`) })
  }
  return specs
}

async function ensureInDir (dir: string, opts: LabCertificateOptions): Promise<LabCertificates> {
  const specs = leafSpecs(opts)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const now = Date.now()
    let ca = await readCa(dir, now)
    let manifest: Manifest
    if (ca === undefined) {
      ca = await issueCa(dir, now)
      // A new CA invalidates every leaf, whatever the old manifest says.
      manifest = { version: 1, leaves: {} }
    } else {
      manifest = await readManifest(dir)
    }
    const before = JSON.stringify(manifest)
    manifest.ca = { fingerprint256: ca.x509.fingerprint256 }

    const issued = new Map<string, LabCertificateFiles>()
    for (const spec of specs) {
      const files = await ensureLeaf(dir, spec, ca, manifest, now)
      issued.set(spec.base, files)
    }
    // Entries for ids that were dropped from the config would only mislead a reader of the file.
    for (const base of Object.keys(manifest.leaves)) {
      if (!issued.has(base)) delete manifest.leaves[base]
    }
    if (JSON.stringify(manifest) !== before) {
      await writeAtomic(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', 0o644)
    }

    const internal = new Map<string, LabCertificateFiles>()
    for (const { id } of opts.internal) internal.set(id, issued.get(`internal-${id}`) as LabCertificateFiles)
    return { caFile: path.join(dir, CA_CERT), caPem: ca.pem, external: issued.get('external') as LabCertificateFiles, internal }
  } catch (err) {
    if (err instanceof LyncProxyError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new LyncProxyError('LRP_ERR_CERT_LOAD', `cannot prepare the lab certificates in ${dir}${code === undefined ? '' : ` (${code})`}: ${(err as Error).message}`, {
      location: { file: dir },
      fix: 'make the directory writable by the user running lyncproxy, or point certs.dir elsewhere',
      cause: err,
    })
  }
}

async function readText (file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function parseKeyPair (certPem: string, keyPem: string): { x509: X509Certificate, key: KeyObject } | undefined {
  try {
    const x509 = new X509Certificate(certPem)
    const key = createPrivateKey(keyPem)
    return x509.checkPrivateKey(key) ? { x509, key } : undefined
  } catch {
    return undefined
  }
}

// Anything short of a usable CA (missing, damaged, key lost, about to expire) means starting over:
// leaves cannot be trusted without the CA that signed them.
async function readCa (dir: string, now: number): Promise<Ca | undefined> {
  let pem: string | undefined
  let keyPem: string | undefined
  try {
    pem = await readText(path.join(dir, CA_CERT))
    keyPem = await readText(path.join(dir, CA_KEY))
  } catch {
    return undefined
  }
  if (pem === undefined || keyPem === undefined) return undefined
  const pair = parseKeyPair(pem, keyPem)
  if (pair === undefined || !pair.x509.ca) return undefined
  if (Date.parse(pair.x509.validTo) - now < RENEW_BEFORE_MS) return undefined
  return { pem, keyPem, x509: pair.x509 }
}

async function readManifest (dir: string): Promise<Manifest> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Partial<Manifest>
    if (parsed.version === 1 && typeof parsed.leaves === 'object' && parsed.leaves !== null) {
      return { version: 1, ca: parsed.ca, leaves: parsed.leaves }
    }
  } catch {
    // A missing or damaged manifest only costs a check against the certificates themselves.
  }
  return { version: 1, leaves: {} }
}

function sameNames (a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every((n) => set.has(n))
}

async function ensureLeaf (dir: string, spec: LeafSpec, ca: Ca, manifest: Manifest, now: number): Promise<LabCertificateFiles> {
  const certFile = path.join(dir, `${spec.base}.pem`)
  const keyFile = path.join(dir, `${spec.base}.key`)
  const cert = await readText(certFile).catch(() => undefined)
  const key = await readText(keyFile).catch(() => undefined)
  const recorded = manifest.leaves[spec.base]

  if (cert !== undefined && key !== undefined) {
    const pair = parseKeyPair(cert, key)
    const reusable = pair !== undefined &&
      // The manifest records what was asked for; the SAN check also catches a file swapped by hand
      // and still decides when the manifest is gone.
      (recorded === undefined || !Array.isArray(recorded.names) || sameNames(recorded.names.filter((n) => typeof n === 'string').map(normalizeName), spec.names)) &&
      sameNames(certificateNames(pair.x509), spec.names) &&
      pair.x509.checkIssued(ca.x509) && pair.x509.verify(ca.x509.publicKey) &&
      Date.parse(pair.x509.validTo) - now >= RENEW_BEFORE_MS
    if (reusable) {
      manifest.leaves[spec.base] = { names: spec.names, fingerprint256: pair.x509.fingerprint256 }
      return { cert, key, certFile, keyFile }
    }
  }

  const leaf = await issueLeaf(spec.names, ca, now)
  // Key first: if the process dies between the two writes, the pair on disk does not match and
  // the next start reissues it instead of serving a certificate without its key.
  await writeAtomic(keyFile, leaf.key, 0o600)
  await writeAtomic(certFile, leaf.cert, 0o644)
  manifest.leaves[spec.base] = { names: spec.names, fingerprint256: new X509Certificate(leaf.cert).fingerprint256 }
  return { cert: leaf.cert, key: leaf.key, certFile, keyFile }
}

// selfsigned and the ASN.1 libraries under it add markedly to the process's resident memory
// (bench/results/2026-11-22-design-measurements.md), for the rare start that has a certificate
// to issue: most find theirs on disk.
async function loadGenerator (): Promise<typeof Generate> {
  return (await import('selfsigned')).generate
}

async function issueCa (dir: string, now: number): Promise<Ca> {
  const notBefore = new Date(now - BACKDATE_MS)
  // The date in the name tells apart the lab CAs a tester has trusted over time.
  const stamp = new Date(now).toISOString().slice(0, 10)
  const generate = await loadGenerator()
  const pems = await generate([
    { name: 'commonName', value: `lyncproxy lab CA ${stamp}` },
    { name: 'organizationName', value: 'lyncproxy lab - not for production' },
  ], {
    algorithm: 'sha256',
    keySize: KEY_BITS,
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + CA_DAYS * DAY_MS),
    extensions: [
      // pathLen 0: the lab CA signs servers directly and can never be used to mint another CA.
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  })
  await writeAtomic(path.join(dir, CA_KEY), pems.private, 0o600)
  await writeAtomic(path.join(dir, CA_CERT), pems.cert, 0o644)
  return { pem: pems.cert, keyPem: pems.private, x509: new X509Certificate(pems.cert) }
}

async function issueLeaf (names: string[], ca: Ca, now: number): Promise<{ cert: string, key: string }> {
  const notBefore = new Date(now - BACKDATE_MS)
  // A leaf that outlives its issuer fails validation anyway; stopping at the CA's end keeps the
  // renewal check above honest.
  const notAfter = new Date(Math.min(notBefore.getTime() + LEAF_DAYS * DAY_MS, Date.parse(ca.x509.validTo)))
  const generate = await loadGenerator()
  const pems = await generate([{ name: 'commonName', value: names[0] as string }], {
    algorithm: 'sha256',
    keySize: KEY_BITS,
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    ca: { key: ca.keyPem, cert: ca.pem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  })
  return { cert: pems.cert, key: pems.private }
}

// Write-then-rename so a reader (or a crash) never sees half a key, and chmod before the rename so a
// private key is never readable by others, not even for a moment and whatever the umask.
async function writeAtomic (file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' })
    await chmod(tmp, mode)
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
