// The server side TLS policy: Mozilla's "intermediate" profile (Server Side TLS guidelines 6.0).
// It keeps TLS 1.2 and 1.3 with forward-secret AEAD suites only, and drops what TMG used to offer
// (TLS 1.0/1.1, CBC suites, static RSA key exchange), which is what a present-day audit expects.
// A listener may choose the "old" profile instead (listeners[].tlsProfile) for the clients a Lync
// fleet still has: Lync Phone Edition speaks TLS 1.0 only, and Windows 7 offers no ECDHE-RSA with
// GCM. `lyncproxy check` warns about it, since it is what the audit flags.
import type tls from 'node:tls'

// The intermediate TLS 1.2 list, in Mozilla's order (ECDSA before RSA, AES-128 before AES-256).
export const INTERMEDIATE_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

// Node takes TLS 1.3 suites in the same `ciphers` string. They are named explicitly so that the
// whole policy is visible here and the server order below also applies to TLS 1.3.
export const INTERMEDIATE_TLS13_CIPHERSUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
].join(':')

// What the old profile adds for TLS 1.0-1.2 clients without AEAD: CBC suites with ECDHE first,
// then static RSA (Mozilla's "old" list without 3DES). OpenSSL 3 refuses TLS 1.0/1.1 and SHA-1
// signatures at its default security level; level 0 is what lets those clients in at all.
export const OLD_EXTRA_CIPHERS = [
  'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-RSA-AES256-SHA384', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA256', 'AES256-SHA256', 'AES128-SHA', 'AES256-SHA',
].join(':')

export type TlsProfileName = 'intermediate' | 'old'

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

export type ServerTlsContextOptions = Required<Pick<tls.SecureContextOptions, 'minVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder'>>
export type ServerTlsProfile = ServerTlsContextOptions & Required<Pick<tls.TlsOptions, 'ALPNProtocols' | 'handshakeTimeout'>>

// The part of the policy that lives in a SecureContext. Certificate contexts are built with it too,
// so that a context handed out by the SNI callback is never weaker than the server it serves.
export function serverTlsContextOptions (profile: TlsProfileName = 'intermediate'): ServerTlsContextOptions {
  const old = profile === 'old'
  return {
    minVersion: old ? 'TLSv1' : 'TLSv1.2',
    ciphers: `${INTERMEDIATE_TLS13_CIPHERSUITES}:${INTERMEDIATE_TLS12_CIPHERS}${old ? `:${OLD_EXTRA_CIPHERS}:@SECLEVEL=0` : ''}`,
    ecdhCurve: 'X25519:prime256v1:secp384r1',
    // Mozilla lets the client choose, but testssl 3.0.8 rates "no server cipher order" as HIGH,
    // and a lab that is audited with testssl should pass it.
    honorCipherOrder: true,
  }
}

// Options for tls.createServer / https.createServer. A fresh object per call, so a caller may
// add its own options without changing anyone else's.
export function serverTlsProfile (handshakeTimeoutMs: number = DEFAULT_HANDSHAKE_TIMEOUT_MS, profile: TlsProfileName = 'intermediate'): ServerTlsProfile {
  if (!Number.isFinite(handshakeTimeoutMs) || handshakeTimeoutMs <= 0) {
    throw new RangeError(`handshakeTimeoutMs must be a positive number of milliseconds, got ${handshakeTimeoutMs}`)
  }
  return {
    ...serverTlsContextOptions(profile),
    // The proxy speaks HTTP/1.1 only; advertising it lets ALPN-aware clients (UCWA in browsers,
    // mobile apps) settle the protocol in the handshake instead of guessing.
    ALPNProtocols: ['http/1.1'],
    // A connection that never finishes its handshake holds a socket; 10 s is generous for a
    // mobile client on a poor link and short enough to blunt a slow-handshake flood.
    handshakeTimeout: handshakeTimeoutMs,
  }
}

// handshakeTimeout only reports: Node emits ERR_TLS_HANDSHAKE_TIMEOUT (and every other handshake
// failure) as `tlsClientError` and leaves the socket open, so a silent client would hold it for
// ever. https.Server closes it itself unless a `clientError` listener takes over (fastify adds one);
// a plain tls.Server, or such a listener, must do it, which is what this does.
export function closeFailedHandshakes (server: tls.Server): void {
  server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => { socket.destroy() })
}
