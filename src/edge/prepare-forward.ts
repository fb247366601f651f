// The checks made after a request matched a forward rule and before it leaves: the header policy's
// refusals, loops and the body limit. Shared with `explain`, so what it predicts is what happens.
import { EdgeFailures, type Failure } from '../respond/failure.js'
import { buildUpstreamHeaders, REJECT_TRANSFER_CODING, REJECT_UNDERSCORE, type ForwardContext, type UpstreamHeaders } from '../forward/request-headers.js'
import type { Route } from '../routing/table.js'

export function prepareForward (route: Route, raw: string[], ctx: ForwardContext): UpstreamHeaders | Failure {
  // A rule set to rewrite Host (preserveHost: false) is rare: only then is the context copied.
  const built = buildUpstreamHeaders(raw, route.upstreamHost === undefined ? ctx : { ...ctx, upstreamHost: route.upstreamHost })
  if (built === REJECT_UNDERSCORE) return EdgeFailures.badHeader
  if (built === REJECT_TRANSFER_CODING) return EdgeFailures.badTransferCoding
  if (built.loop) return EdgeFailures.loop
  if (route.maxBodyBytes > 0 && built.contentLength > route.maxBodyBytes) return EdgeFailures.bodyTooLarge
  return built
}

export function isRefusal (x: UpstreamHeaders | Failure): x is Failure {
  return (x as Failure).status !== undefined
}
