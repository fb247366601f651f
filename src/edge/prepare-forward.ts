// The checks made after a request matched a forward rule and before it leaves: the header policy's
// refusals, loops and the body limit. Shared with `explain`, so what it predicts is what happens.
import { isIPv6 } from 'node:net'
import { EdgeFailures, type Failure } from '../respond/failure.js'
import { buildUpstreamHeaders, REJECT_TRANSFER_CODING, REJECT_UNDERSCORE, type ForwardContext, type UpstreamHeaders } from '../forward/request-headers.js'
import type { ForwardingChoices, Route } from '../routing/table.js'

export function prepareForward (route: Route, raw: string[], ctx: ForwardContext, forwarding?: ForwardingChoices): UpstreamHeaders | Failure {
  // The operator's choices (a Host rewrite, `_` in names, trusted proxies) are rare: only with one
  // of them is the context copied.
  const chosen = route.upstreamHost === undefined && (forwarding === undefined || (forwarding.underscoreHeaders === undefined && forwarding.trustedProxies === undefined))
    ? ctx
    : withChoices(route, raw, ctx, forwarding)
  const built = buildUpstreamHeaders(raw, chosen)
  if (built === REJECT_UNDERSCORE) return EdgeFailures.badHeader
  if (built === REJECT_TRANSFER_CODING) return EdgeFailures.badTransferCoding
  if (built.loop) return EdgeFailures.loop
  if (route.maxBodyBytes > 0 && built.contentLength > route.maxBodyBytes) return EdgeFailures.bodyTooLarge
  return built
}

export function isRefusal (x: UpstreamHeaders | Failure): x is Failure {
  return (x as Failure).status !== undefined
}

function withChoices (route: Route, raw: string[], ctx: ForwardContext, forwarding: ForwardingChoices | undefined): ForwardContext {
  const out: ForwardContext = { ...ctx }
  if (route.upstreamHost !== undefined) out.upstreamHost = route.upstreamHost
  if (forwarding?.underscoreHeaders !== undefined) out.underscore = forwarding.underscoreHeaders
  const trusted = forwarding?.trustedProxies
  if (trusted !== undefined && trusted.check(ctx.client, isIPv6(ctx.client) ? 'ipv6' : 'ipv4')) {
    const sent = (name: string): string | undefined => {
      const values: string[] = []
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name && raw[i + 1]!.trim() !== '') values.push(raw[i + 1]!.trim())
      return values.length > 0 ? values.join(', ') : undefined
    }
    const forwardedFor = sent('x-forwarded-for')
    const forwarded = sent('forwarded')
    if (forwardedFor !== undefined) out.forwardedFor = forwardedFor
    if (forwarded !== undefined) out.forwarded = forwarded
  }
  return out
}
