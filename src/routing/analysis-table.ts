// The compiled routing table of a config that is not running: what `explain`, `ports` and the lints
// reason about when they are given a file. It is the real compiler's output, so they see the same
// bridged ports, rule order and implicit redirects as the data plane would. Only the upstream CAs
// are left out: they decide whether a pool's certificate is trusted, not where a request goes, and
// reading them would make these commands fail on a laptop that lacks /etc/lyncproxy/*.pem.
import type { ResolvedConfig } from '../config/defaults.js'
import { compileTable } from './compile.js'
import type { RoutingTable } from './table.js'

export interface AnalysisTable {
  table: RoutingTable
  // Releases the pools' agents; they never opened a socket, but may hold timers.
  close (): void
}

export function compileForAnalysis (config: ResolvedConfig, baseDir: string): AnalysisTable {
  const copy = structuredClone(config) as unknown as { pools: Record<string, { tls: { ca: string[] } }> }
  for (const pool of Object.values(copy.pools)) pool.tls.ca = []
  const table = compileTable(copy as unknown as ResolvedConfig, { baseDir, generation: 0 })
  return {
    table,
    close: () => { for (const pool of table.pools.values()) pool.destroy() },
  }
}
