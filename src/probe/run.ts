// `runProbe`: Microsoft's reverse proxy checklist and the Lync client flows against one target, in
// checklist order. TLS goes first because every HTTPS check on a name depends on it; the independent
// groups then run side by side; the two sign-ins go last because they build on the rows before them.
import { autodiscoverChecks } from './autodiscover.js'
import { ProbeContext } from './context.js'
import { exposureChecks } from './exposure.js'
import { resolveProbeOptions } from './options.js'
import { owasChecks } from './owas.js'
import { simpleUrlChecks } from './simple-urls.js'
import { tlsChecks } from './tls.js'
import type { ProbeOptions, ProbeResult } from './types.js'
import { ucwaSignIn } from './ucwa.js'
import { ntlmHandshake, windowsAuthChecks } from './winauth.js'

export type { ProbeOptions, ProbeResult, Verdict } from './types.js'

export async function runProbe (options: ProbeOptions): Promise<ProbeResult[]> {
  const ctx = new ProbeContext(resolveProbeOptions(options))
  const keep = (rows: ProbeResult[]): ProbeResult[] => rows.map((r) => ctx.record(r))

  const tls = keep(await tlsChecks(ctx))
  const [autodiscover, windowsAuth, simpleUrls, owas, exposure] = await Promise.all([
    autodiscoverChecks(ctx), windowsAuthChecks(ctx), simpleUrlChecks(ctx), owasChecks(ctx), exposureChecks(ctx),
  ])
  keep([...autodiscover, ...windowsAuth, ...simpleUrls, ...owas, ...exposure])
  const [signIn, ntlm] = await Promise.all([ucwaSignIn(ctx), ntlmHandshake(ctx)])
  keep([...signIn, ntlm])

  return [...tls, ...autodiscover, ...signIn, ...windowsAuth, ntlm, ...simpleUrls, ...owas, ...exposure]
}
