// The shapes `lyncproxy probe` works with: what it is pointed at, and one row of its report.

export type Verdict = 'PASS' | 'FAIL' | 'WARN' | 'SKIP'

export interface ProbeResult {
  // A short, stable id (tls, lyncdiscover-http, windows-auth, ...), what scripts key on.
  check: string
  // What was probed: a public name, or a name and path for path-specific checks.
  name: string
  result: Verdict
  detail: string
  // For FAIL and WARN: the likely cause in Lync terms, and the fix.
  cause?: string
}

export interface ProbeOptions {
  // The IP (or host) the reverse proxy listens on; every name is reached there, without DNS.
  target: string
  domain?: string
  httpPort?: number
  httpsPort?: number
  // PEM text of the CA(s) to verify against; Node's built-in roots when absent.
  ca?: string | Buffer
  user?: string
  password?: string
  // NTLM identity when it is not the SIP address (DOMAIN\user or a UPN).
  ntlmUser?: string
  // Per request; 10 s by default.
  timeoutMs?: number
  // Hold one event-channel GET this many seconds after the sign-in (opt-in: it makes the run as long).
  longPollSeconds?: number
  // Deployments that use other names than Microsoft's examples. null leaves the name out (no
  // Director pool, no Office Web Apps farm).
  webExt?: string
  webDirExt?: string | null
  owas?: string | null
}

// The published names the checklist goes through, derived from --domain and the overrides.
export interface ProbeNames {
  webExt: string
  webDirExt?: string
  meet: string
  dialin: string
  lyncdiscover: string
  owas?: string
  // A name that must not be published: the Control Panel simple URL.
  admin: string
}

export interface ResolvedProbeOptions {
  target: string
  domain: string
  httpPort: number
  httpsPort: number
  ca?: string | Buffer
  credentials?: { user: string, password: string, ntlmUser: string }
  timeoutMs: number
  longPollSeconds?: number
  names: ProbeNames
}
