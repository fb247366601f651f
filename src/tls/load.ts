// Turns one `certificates:` entry of a listener into something a TLS server can serve, and finds
// out which names it covers. Every way this can go wrong at start-up ends in a LyncProxyError that
// names the file and the fix, because a certificate problem found by a client at 3 a.m. is far
// harder to diagnose than one refused at start.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import type { ResolvedListener } from '../config/defaults.js'
import type { CertificateConfig } from '../config/schema.js'
import { LyncProxyError, LyncProxyErrors, type ErrorCode } from '../errors.js'
import type { LabCertificates } from './lab-certs.js'
import { certificateNames } from './names.js'
import { serverTlsContextOptions, type TlsProfileName } from './profile.js'

export interface LoadedCertificate {
  // For messages and logs; names files only, never the passphrase.
  source: string
  // The certificate part of the server options, to spread next to serverTlsProfile(). For a PFX
  // this holds the passphrase, because Node can only open a PFX itself: never log this object.
  secureContextOptions: tls.SecureContextOptions
  // Lower-case DNS names from the SAN, or the CN when the certificate has no SAN.
  names: string[]
  notAfter: Date
  secureContext: tls.SecureContext
}

export interface CertificateLoadContext {
  // Relative paths in the config are resolved from here (the config file's directory).
  baseDir: string
  lab?: LabCertificates
  env?: NodeJS.ProcessEnv
  // The listener's TLS profile, which every certificate context it serves carries too.
  tlsProfile?: TlsProfileName
}

type PemConfig = Extract<CertificateConfig, { cert: string }>
type PfxConfig = Extract<CertificateConfig, { pfx: string }>

interface Passphrase { value: string, origin: string }

// What the operator can read in an error: OpenSSL's reason, with the passphrase masked in the
// unlikely case some library echoes it.
function failure (code: ErrorCode, message: string, file: string, fix: string, secret?: Passphrase, cause?: unknown): LyncProxyError {
  const mask = (text: string): string => secret === undefined || secret.value === '' ? text : text.split(secret.value).join('***')
  const causeText = cause instanceof Error ? cause.message : String(cause)
  const safeCause = secret !== undefined && secret.value !== '' && causeText.includes(secret.value) ? undefined : cause
  return new LyncProxyError(code, mask(message), { location: { file }, fix: mask(fix), cause: safeCause })
}

function reason (err: unknown): string {
  const e = err as { reason?: unknown, message?: unknown }
  return typeof e.reason === 'string' ? e.reason : String(e.message ?? err)
}

async function readInput (file: string, what: string, ctx: CertificateLoadContext): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    const fix = code === 'ENOENT'
      ? `check the path; relative paths are resolved from ${ctx.baseDir}`
      : 'let the user running lyncproxy read the file (and its directories)'
    throw failure('LRP_ERR_CERT_LOAD', `cannot read the ${what} ${file} (${code})`, file, fix, undefined, err)
  }
}

async function readPassphrase (cfg: { passphraseEnv?: string, passphraseFile?: string }, ctx: CertificateLoadContext, forFile: string): Promise<Passphrase | undefined> {
  const env = ctx.env ?? process.env
  if (cfg.passphraseEnv !== undefined) {
    const value = env[cfg.passphraseEnv]
    if (value !== undefined) return { value, origin: `environment variable ${cfg.passphraseEnv}` }
    // With both set, the file is the fallback, as with a service that gets its secrets either way.
    if (cfg.passphraseFile === undefined) {
      throw new LyncProxyError('LRP_ERR_CERT_PASSPHRASE', `the passphrase for ${forFile} is to come from the environment variable ${cfg.passphraseEnv}, which is not set`, {
        location: { file: forFile },
        fix: `set ${cfg.passphraseEnv} in the environment of the lyncproxy process`,
      })
    }
  }
  if (cfg.passphraseFile !== undefined) {
    const file = path.resolve(ctx.baseDir, cfg.passphraseFile)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      const also = cfg.passphraseEnv === undefined ? '' : ` and the environment variable ${cfg.passphraseEnv} is not set`
      throw new LyncProxyError('LRP_ERR_CERT_PASSPHRASE', `cannot read the passphrase file ${file} for ${forFile} (${code})${also}`, {
        location: { file },
        fix: code === 'ENOENT' ? `create ${file} holding the passphrase (mode 0600)` : `let the user running lyncproxy read ${file}`,
        cause: err,
      })
    }
    // `echo secret > file` adds a newline that is not part of the passphrase.
    return { value: text.replace(/[\r\n]+$/, ''), origin: `passphrase file ${file}` }
  }
  return undefined
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
const PEM_KEY = /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----/

// The usual ways a Windows export ends up in the wrong format, each with its conversion command.
function certificateBlocks (data: Buffer, file: string, what: string): string[] {
  const text = data.toString('latin1')
  const blocks = text.match(PEM_CERT) ?? []
  if (blocks.length === 0) {
    let message = `the ${what} ${file} holds no PEM certificate`
    let fix = 'give a PEM file (text starting with -----BEGIN CERTIFICATE-----)'
    if (text.includes('-----BEGIN PKCS7-----')) {
      message = `the ${what} ${file} is a PKCS#7 bundle (.p7b), not a PEM certificate`
      fix = `convert it: openssl pkcs7 -print_certs -in ${file} -out ${file}.pem`
    } else if (PEM_KEY.test(text)) {
      message = `the ${what} ${file} holds a private key, not a certificate`
      fix = 'check that cert and key are not swapped in the config'
    } else if (data[0] === 0x30) {
      message = `the ${what} ${file} is DER (binary), not PEM`
      fix = `convert it: openssl x509 -inform der -in ${file} -out ${file}.pem, or export it from Windows as "Base-64 encoded X.509"`
    }
    throw failure('LRP_ERR_CERT_LOAD', message, file, fix)
  }
  blocks.forEach((block, i) => {
    try {
      // Parsing each block here catches a damaged paste before OpenSSL rejects the whole context.
      void new X509Certificate(block)
    } catch (err) {
      throw failure('LRP_ERR_CERT_LOAD', `certificate ${i + 1} in the ${what} ${file} is damaged: ${reason(err)}`, file,
        'export the certificate again; a PEM block must be copied whole, with its BEGIN and END lines', undefined, err)
    }
  })
  return blocks
}

function privateKey (data: Buffer | string, file: string, passphrase: Passphrase | undefined): KeyObject {
  const text = typeof data === 'string' ? data : data.toString('latin1')
  if (!PEM_KEY.test(text)) {
    const binary = typeof data !== 'string' && data[0] === 0x30
    throw failure('LRP_ERR_CERT_LOAD',
      text.includes('-----BEGIN CERTIFICATE-----') ? `the key file ${file} holds a certificate, not a private key` : `the key file ${file} holds no PEM private key`,
      file,
      binary ? `convert it: openssl pkey -inform der -in ${file} -out ${file}.pem` : 'give the PEM private key (text starting with -----BEGIN PRIVATE KEY-----) that belongs to the certificate')
  }
  const encrypted = text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(text)
  if (encrypted && passphrase === undefined) {
    throw failure('LRP_ERR_CERT_LOAD', `the private key ${file} is encrypted and no passphrase is configured for it`, file,
      'add passphraseEnv or passphraseFile to this certificate in the config')
  }
  try {
    return createPrivateKey({ key: text, format: 'pem', passphrase: passphrase?.value })
  } catch (err) {
    const code = (err as { code?: string }).code
    if (encrypted && passphrase !== undefined && (code === 'ERR_OSSL_BAD_DECRYPT' || /bad decrypt/i.test(reason(err)))) {
      throw failure('LRP_ERR_CERT_LOAD', `the passphrase from the ${passphrase.origin} does not decrypt the private key ${file}`, file,
        `put the passphrase the key was encrypted with in the ${passphrase.origin}`, passphrase, err)
    }
    throw failure('LRP_ERR_CERT_LOAD', `cannot read the private key ${file}: ${reason(err)}`, file,
      'export the key again as PEM (PKCS#8 or PKCS#1)', passphrase, err)
  }
}

function buildContext (options: tls.SecureContextOptions, file: string, passphrase: Passphrase | undefined, profile: TlsProfileName | undefined): tls.SecureContext {
  try {
    return tls.createSecureContext({ ...serverTlsContextOptions(profile), ...options })
  } catch (err) {
    throw failure('LRP_ERR_CERT_LOAD', `cannot use the certificate from ${file}: ${reason(err)}`, file,
      'check that the file holds a server certificate with its private key', passphrase, err)
  }
}

interface PemInput {
  certText: Buffer | string
  certFile: string
  keyText: Buffer | string
  keyFile: string
  chainText?: Buffer
  chainFile?: string
  passphrase?: Passphrase
  source: string
  tlsProfile?: TlsProfileName
}

function fromPemInput (input: PemInput): LoadedCertificate {
  const certBlocks = certificateBlocks(Buffer.from(input.certText), input.certFile, 'certificate file')
  const chainBlocks = input.chainText === undefined || input.chainFile === undefined
    ? []
    : certificateBlocks(input.chainText, input.chainFile, 'chain file')
  const leaf = new X509Certificate(certBlocks[0] as string)
  const key = privateKey(input.keyText, input.keyFile, input.passphrase)
  if (!leaf.checkPrivateKey(key)) {
    throw failure('LRP_ERR_CERT_LOAD', `the private key ${input.keyFile} does not belong to the certificate ${input.certFile}`, input.keyFile,
      `name the key made with this certificate's request; the two match when "openssl x509 -noout -pubkey -in ${input.certFile}" and "openssl pkey -pubout -in ${input.keyFile}" print the same key`)
  }
  // A chain file that repeats what the certificate file already holds would make every handshake
  // carry the same certificate twice.
  const blocks = [...new Set([...certBlocks, ...chainBlocks])]
  // The key is kept decrypted so that the options never carry the passphrase.
  const secureContextOptions: tls.SecureContextOptions = {
    cert: blocks.join('\n') + '\n',
    key: key.export({ type: 'pkcs8', format: 'pem' }) as string,
  }
  return {
    source: input.source,
    secureContextOptions,
    names: certificateNames(leaf),
    notAfter: new Date(leaf.validTo),
    secureContext: buildContext(secureContextOptions, input.certFile, input.passphrase, input.tlsProfile),
  }
}

async function fromPem (cfg: PemConfig, ctx: CertificateLoadContext): Promise<LoadedCertificate> {
  const certFile = path.resolve(ctx.baseDir, cfg.cert)
  const keyFile = path.resolve(ctx.baseDir, cfg.key)
  const chainFile = cfg.chain === undefined ? undefined : path.resolve(ctx.baseDir, cfg.chain)
  const certText = await readInput(certFile, 'certificate file', ctx)
  const keyText = await readInput(keyFile, 'key file', ctx)
  const chainText = chainFile === undefined ? undefined : await readInput(chainFile, 'chain file', ctx)
  const passphrase = cfg.passphraseEnv === undefined && cfg.passphraseFile === undefined ? undefined : await readPassphrase(cfg, ctx, keyFile)
  return fromPemInput({
    certText, certFile, keyText, keyFile, chainText, chainFile, passphrase, tlsProfile: ctx.tlsProfile,
    source: `PEM certificate ${certFile} (key ${keyFile}${chainFile === undefined ? '' : `, chain ${chainFile}`})`,
  })
}

function fromLab (ctx: CertificateLoadContext, internalPool?: string): LoadedCertificate {
  if (ctx.lab === undefined) {
    throw new LyncProxyError('LRP_ERR_CERT_LOAD', 'a listener asks for a lab certificate but the lab CA was not prepared', {
      fix: 'run the lab (lyncproxy lab), or give cert/key or pfx files for this listener',
    })
  }
  const files = internalPool === undefined ? ctx.lab.external : ctx.lab.internal.get(internalPool)
  if (files === undefined) {
    throw new LyncProxyError('LRP_ERR_CERT_LOAD', `a listener asks for the lab internal certificate of pool '${internalPool ?? ''}', which has none`, {
      fix: 'name a pool defined in the config in labInternal',
    })
  }
  const { cert, key, certFile, keyFile } = files
  return fromPemInput({ certText: cert, certFile, keyText: key, keyFile, source: `lab certificate ${certFile}`, tlsProfile: ctx.tlsProfile })
}

// The certificate a context would present, read through a server-side TLSSocket that is never
// connected: Node has no PKCS#12 parser of its own, but OpenSSL has opened the PFX by now.
function contextCertificate (secureContext: tls.SecureContext): X509Certificate | undefined {
  const socket = new tls.TLSSocket(new net.Socket(), { secureContext, isServer: true })
  try {
    const raw = (socket.getCertificate() as { raw?: Buffer } | null)?.raw
    return raw === undefined ? undefined : new X509Certificate(raw)
  } finally {
    socket.destroy()
  }
}

function pfxFailure (err: unknown, file: string, data: Buffer, cfg: PfxConfig, passphrase: Passphrase | undefined): LyncProxyError {
  const text = reason(err)
  const code = (err as { code?: string }).code
  if (/mac verify failure/i.test(text)) {
    return passphrase === undefined
      ? failure('LRP_ERR_CERT_LOAD', `the PFX file ${file} is protected by a passphrase and none is configured for it`, file,
        'add passphraseEnv or passphraseFile to this certificate in the config', undefined, err)
      : failure('LRP_ERR_CERT_LOAD', `the passphrase from the ${passphrase.origin} does not open the PFX file ${file} (MAC verification failed)`, file,
        `put the password chosen when the PFX was exported in the ${passphrase.origin}`, passphrase, err)
  }
  if (code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /unsupported/i.test(text)) {
    // Exports from older Windows and `openssl pkcs12 -legacy` use RC2-40, which OpenSSL 3 only
    // reads with its legacy provider.
    return failure('LRP_ERR_CERT_LOAD', `the PFX file ${file} uses a legacy encryption (RC2/RC4) that OpenSSL 3 does not read by default`, file,
      'export it again with AES256-SHA256 (Windows: Export-PfxCertificate -CryptoAlgorithmOption AES256_SHA256), ' +
      `or convert it: openssl pkcs12 -legacy -in ${file} -noenc -out tmp.pem && openssl pkcs12 -export -in tmp.pem -out new.pfx && rm tmp.pem`,
      passphrase, err)
  }
  if (/key values mismatch/i.test(text)) {
    return failure('LRP_ERR_CERT_LOAD', `the private key in the PFX file ${file} does not belong to its certificate`, file,
      'export the certificate again from the machine that holds its private key, with "Yes, export the private key"', passphrase, err)
  }
  if (data.toString('latin1', 0, 11) === '-----BEGIN ') {
    return failure('LRP_ERR_CERT_LOAD', `the PFX file ${file} is a PEM file, not PFX/PKCS#12`, file,
      'name it with cert and key instead of pfx', passphrase, err)
  }
  return failure('LRP_ERR_CERT_LOAD', `cannot open the PFX file ${file}: ${text}`, file,
    `check that it is a PFX/PKCS#12 file with its private key${cfg.passphraseEnv === undefined && cfg.passphraseFile === undefined ? ', and configure its passphrase' : ''}`,
    passphrase, err)
}

async function fromPfx (cfg: PfxConfig, ctx: CertificateLoadContext): Promise<LoadedCertificate> {
  const file = path.resolve(ctx.baseDir, cfg.pfx)
  const pfx = await readInput(file, 'PFX file', ctx)
  const passphrase = cfg.passphraseEnv === undefined && cfg.passphraseFile === undefined ? undefined : await readPassphrase(cfg, ctx, file)
  const secureContextOptions: tls.SecureContextOptions = passphrase === undefined ? { pfx } : { pfx, passphrase: passphrase.value }
  let secureContext: tls.SecureContext
  try {
    secureContext = tls.createSecureContext({ ...serverTlsContextOptions(ctx.tlsProfile), ...secureContextOptions })
  } catch (err) {
    throw pfxFailure(err, file, pfx, cfg, passphrase)
  }
  const leaf = contextCertificate(secureContext)
  if (leaf === undefined) {
    throw failure('LRP_ERR_CERT_LOAD', `the PFX file ${file} holds no server certificate`, file,
      'export the certificate together with its private key', passphrase)
  }
  return { source: `PFX file ${file}`, secureContextOptions, names: certificateNames(leaf), notAfter: new Date(leaf.validTo), secureContext }
}

export async function loadCertificate (cfg: CertificateConfig, ctx: CertificateLoadContext): Promise<LoadedCertificate> {
  if ('lab' in cfg) return fromLab(ctx)
  if ('labInternal' in cfg) return fromLab(ctx, cfg.labInternal)
  if ('pfx' in cfg) return fromPfx(cfg, ctx)
  return fromPem(cfg, ctx)
}

export interface ListenerCertificateOptions extends CertificateLoadContext {
  // Leave out the lab's certificates ({ lab: true }, { labInternal }): start creates them when they
  // are missing, so only a command that must not write (check) skips them.
  skipLab?: boolean
}

// The certificates of every https listener, by listener name, loaded as start serves them. `check`
// goes through here too, so a file that start cannot use fails there first, with the same error.
// Every listener's problems are reported together; anything but a coded error is a bug and
// propagates at once.
export async function loadListenerCertificates (listeners: readonly ResolvedListener[], options: ListenerCertificateOptions): Promise<Map<string, LoadedCertificate[]>> {
  const out = new Map<string, LoadedCertificate[]>()
  const errors: LyncProxyError[] = []
  for (const listener of listeners) {
    if (listener.protocol !== 'https' || listener.certificates === undefined) continue
    const certs: LoadedCertificate[] = []
    for (const c of listener.certificates) {
      if (options.skipLab === true && ('lab' in c || 'labInternal' in c)) continue
      try {
        certs.push(await loadCertificate(c, { ...options, ...(listener.tlsProfile === undefined ? {} : { tlsProfile: listener.tlsProfile }) }))
      } catch (err) {
        if (!(err instanceof LyncProxyError)) throw err
        errors.push(err)
      }
    }
    out.set(listener.name, certs)
  }
  if (errors.length > 0) throw new LyncProxyErrors(errors)
  return out
}
