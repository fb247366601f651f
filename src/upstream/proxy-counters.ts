// What one proxy instance counts across its table generations for the gauges in metrics.ts: the
// requests waiting for an upstream connection and the client connections pinned to their own. The
// instance owns it, so two proxies in one process count apart; it reaches the data plane through the
// pools, since every pool the instance compiles (at start and at each reload) holds the same object.
import { WaitingRequests } from './waiting-requests.js'

export class ProxyCounters {
  readonly waiting = new WaitingRequests()
  // NTLM/Negotiate client connections pinned to their own upstream connection (upstream/pinning.ts).
  pinnedConnections = 0
}
