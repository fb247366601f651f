// Turning what went wrong on the wire into what an operator of TMG, ARR or nginx should look at.
// Shared by every check so that the same symptom is always explained the same way.
import { ProbeTimeoutError, type ProbeResponse } from './http.js'

const CERTIFICATE_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the listener presents a self-signed certificate: Lync clients and mobile devices refuse it; use a certificate from a public CA (or pass --ca for a lab CA)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a root that is not trusted: use a public CA, or pass the private root with --ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer is not trusted or the intermediate certificates are missing on the listener: install the full chain on the reverse proxy (or pass the private root with --ca)',
  UNABLE_TO_GET_ISSUER_CERT: 'an intermediate certificate is missing on the listener: install the full chain on the reverse proxy',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the issuer of the certificate is unknown: the intermediate certificates are missing on the listener (mobile clients do not fetch them; install the full chain), or it comes from a private CA (pass its root with --ca)',
  CERT_HAS_EXPIRED: 'the certificate has expired: renew it on the reverse proxy',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet: check the clock of the reverse proxy or the dates of the certificate',
}

function codeOf (err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}

export function describeError (err: unknown): string {
  if (err instanceof ProbeTimeoutError) return err.message
  const code = codeOf(err)
  const message = (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? ''
  // OpenSSL's text (error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:file:line)
  // comes down to its reason.
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(message)?.[1]
  if (reason !== undefined) return code === undefined ? reason : `${code} (${reason})`
  return code === undefined || message.includes(code) ? message : `${code}: ${message}`
}

// The likely cause of a request that got no HTTP answer at all.
export function errorCause (err: unknown, where: string): string {
  const code = codeOf(err)
  if (err instanceof ProbeTimeoutError) return `nothing answered on ${where} in time: a firewall drops the traffic, or the proxy waits on a pool that does not answer (check the bridging port and the pool's health)`
  if (code !== undefined && code in CERTIFICATE_ERRORS) return CERTIFICATE_ERRORS[code]!
  switch (code) {
    case 'ECONNREFUSED': return `nothing listens on ${where}: publish a listener there, or point --target/--http-port/--https-port at it`
    case 'ECONNRESET':
    case 'EPIPE': return `the proxy closed the connection on ${where}: a listener without a certificate for this name (TMG drops the handshake), or a rule that refuses the request`
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return `${where} is not reachable from here: routing or a firewall in between`
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return 'the certificate does not carry this name: add it to the SAN of the listener certificate'
    default: return `the request to ${where} failed before any HTTP answer: check the listener and its certificate`
  }
}

function fromLync (res: ProbeResponse): string | undefined {
  const fqdn = res.headers['x-ms-server-fqdn']
  return typeof fqdn === 'string' && fqdn !== '' ? fqdn : undefined
}

// The likely cause of an HTTP answer that is not the one a Lync server gives.
export function statusCause (res: ProbeResponse, name: string): string {
  const server = fromLync(res)
  switch (res.status) {
    case 404:
      return server === undefined
        ? `the proxy does not publish this (name or path): add ${name} to the rule's public names and publish all paths (/*) to the pool`
        : `the request reached ${server}, which has no such page: the proxy changed the path or the Host header, or sends ${name} to the wrong pool`
    case 403: return 'the proxy refused it: a deny rule, a path restriction on the rule, or pre-authentication on the listener; Lync web services need "No authentication" with "clients authenticate directly"'
    case 421: return `the certificate the proxy chose for the SNI ${name} does not cover the Host: put every public name on the listener certificate`
    case 500: return /HTTP filter/i.test(res.body)
      ? 'TMG\'s HTTP filter rejected the request: clear "Verify Normalization" (and "Block high bit characters") in the rule\'s HTTP policy'
      : server === undefined ? 'the proxy failed the request itself' : `${server} failed the request`
    case 502: return 'the proxy could not get an answer from the pool: check the bridging port (4443/8080 for Lync pools, 443 for Office Web Apps), that the proxy trusts the internal CA (ARR 502.3 with 12175), and that the pool is up'
    case 503: return 'the proxy has no healthy server for this rule: check the server farm / pool members and their health probe'
    case 504: return 'the pool did not answer in time: raise the proxy\'s response timeout (ARR 502.3 with 12002 is the same symptom)'
    default: return `answered ${res.status}${server === undefined ? '' : ` from ${server}`}`
  }
}

// "200 from fe01.contoso.net" or "404 from the proxy": where an answer came from, for details.
export function answered (res: ProbeResponse): string {
  const server = fromLync(res)
  return `${res.status}${server === undefined ? '' : ` from ${server}`}`
}
