// TLS on the listener, name by name: the handshake with SNI, the chain against --ca, the SAN, the
// protocol. Done on raw TLS sockets (not through HTTPS) so that a chain problem and a missing name
// are told apart and both reported, and so that TLS 1.1 can be offered on purpose.
import tls from 'node:tls'
import { pass, fail, skip, warn, type ProbeContext } from './context.js'
import { describeError, errorCause } from './diagnose.js'
import { ProbeTimeoutError } from './http.js'
import { publishedNames } from './options.js'
import type { ProbeResult } from './types.js'

const RENEW_WARNING_DAYS = 30
const DAY_MS = 86_400_000

function handshake (ctx: ProbeContext, name: string, extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const { target, httpsPort, ca, timeoutMs } = ctx.options
  return new Promise((resolve, reject) => {
    // The chain and the name are judged below, one by one, so the handshake itself accepts anything.
    const socket = tls.connect({ host: target, port: httpsPort, servername: name, rejectUnauthorized: false, ...(ca === undefined ? {} : { ca }), ...extra })
    const timer = setTimeout(() => socket.destroy(new ProbeTimeoutError(timeoutMs)), timeoutMs)
    socket.once('secureConnect', () => { clearTimeout(timer); resolve(socket) })
    socket.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

function sanCause (ctx: ProbeContext, name: string): string {
  if (name === ctx.names.lyncdiscover) {
    return `Lync Mobile drops the session after a Server Hello without a matching certificate; add ${name} to the SAN, or publish autodiscover on port 80 only`
  }
  return `clients refuse the connection; add ${name} to the SAN of the listener certificate (every simple URL and external web services FQDN must be on it)`
}

function commonName (subject: tls.PeerCertificate['subject'] | undefined): string {
  const cn = subject?.CN
  return Array.isArray(cn) ? cn.join(', ') : cn ?? '?'
}

async function checkName (ctx: ProbeContext, name: string): Promise<ProbeResult> {
  const where = `${ctx.options.target}:${ctx.options.httpsPort}`
  let socket: tls.TLSSocket
  try {
    socket = await handshake(ctx, name)
  } catch (err) {
    // TMG drops a handshake whose SNI no certificate carries; for lyncdiscover that is the SAN story.
    const text = describeError(err)
    const dropped = /ECONNRESET|ALERT_UNRECOGNIZED_NAME|ALERT_HANDSHAKE_FAILURE/.test(text)
    // The probe offers TLS 1.2 and 1.3 only: a listener stuck on 1.0/1.1 fails right here.
    const tooOld = /UNSUPPORTED_PROTOCOL|ALERT_PROTOCOL_VERSION|WRONG_VERSION_NUMBER/.test(text)
    const cause = tooOld
      ? 'the listener does not offer TLS 1.2: iOS and current Lync clients need it; enable TLS 1.2 on the reverse proxy'
      : dropped && name === ctx.names.lyncdiscover ? sanCause(ctx, name) : errorCause(err, where)
    return fail('tls', name, `no TLS session with SNI ${name} on ${where}: ${text}`, cause)
  }
  try {
    const cert = socket.getPeerCertificate()
    const protocol = socket.getProtocol() ?? '?'
    const problems: string[] = []
    const causes: string[] = []
    // Node checks the name too when it has a servername, but only once the chain verified; the name
    // is judged on its own just below.
    const chainError = socket.authorized || String(socket.authorizationError) === 'ERR_TLS_CERT_ALTNAME_INVALID' ? undefined : socket.authorizationError
    if (chainError !== undefined) {
      const code = String(chainError)
      problems.push(`the chain does not verify (${code})`)
      causes.push(errorCause({ code }, where))
    }
    const identity = tls.checkServerIdentity(name, cert)
    if (identity !== undefined) {
      problems.push(`the certificate for ${name} does not carry that name (it carries ${cert.subjectaltname ?? `only CN=${commonName(cert.subject)}`})`)
      causes.push(sanCause(ctx, name))
    }
    if (protocol !== 'TLSv1.2' && protocol !== 'TLSv1.3') {
      problems.push(`${protocol} was negotiated`)
      causes.push('iOS and current Lync clients need TLS 1.2: enable it on the listener')
    }
    if (problems.length > 0) return fail('tls', name, problems.join('; '), causes.join('; also: '))
    const daysLeft = Math.floor((Date.parse(cert.valid_to) - Date.now()) / DAY_MS)
    const detail = `${protocol}, the certificate carries ${name} and verifies (issuer ${commonName(cert.issuer)}, ${daysLeft} days left)`
    return daysLeft < RENEW_WARNING_DAYS
      ? warn('tls', name, detail, 'the certificate expires soon: renew it on the reverse proxy before mobile clients start refusing it')
      : pass('tls', name, detail)
  } finally {
    socket.destroy()
  }
}

// Failures that mean the server said no to TLS 1.1 (an alert, a reset, a TLS 1.2-only answer),
// as opposed to this machine's OpenSSL refusing to offer it at all.
const REFUSED = /ALERT|ECONNRESET|UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER|socket disconnected/i

async function legacyProtocol (ctx: ProbeContext, name: string): Promise<ProbeResult> {
  const label = 'TLS 1.1'
  try {
    // SECLEVEL=0: OpenSSL 3 will not even offer TLS 1.1 at its default security level.
    const socket = await handshake(ctx, name, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })
    socket.destroy()
    return warn('tls-legacy', name, `${label} was accepted`,
      'the listener still accepts TLS 1.0/1.1: Lync 2013 and mobile clients use TLS 1.2, so disable the old protocols unless Lync 2010 / Windows 7 clients still depend on them')
  } catch (err) {
    const text = describeError(err)
    if (err instanceof ProbeTimeoutError || /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(text)) return skip('tls-legacy', name, `not judged: ${text}`)
    if (REFUSED.test(text)) return pass('tls-legacy', name, `${label} refused (${text.split(':')[0]})`)
    return skip('tls-legacy', name, `this machine could not offer ${label}: ${text}`)
  }
}

export async function tlsChecks (ctx: ProbeContext): Promise<ProbeResult[]> {
  const names = publishedNames(ctx.names)
  const rows = await Promise.all(names.map((n) => checkName(ctx, n)))
  rows.push(await legacyProtocol(ctx, ctx.names.webExt))
  return rows
}
