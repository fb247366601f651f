// How far the proxy's JavaScript heap may grow past what it holds live before V8 collects it.
//
// Without a setting, V8 picks the old generation's next limit from how fast it collects, up to
// several times the live size. A proxy promotes a lot of short-lived garbage: under 1,000 busy
// clients, each request outlives a young-generation collection while it waits for its upstream
// connection, so its objects end in the old generation and die there. With V8's own factor the
// resident size under that load grew to several times the live heap; a fixed, small factor keeps it
// close, for one more major collection (mostly on V8's helper thread) every several seconds at full
// load. The figures are in bench/results/2026-11-22-design-measurements.md.
//
// An operator who passes --heap-growing-percent to node (on the command line or in NODE_OPTIONS)
// keeps their value.
import v8 from 'node:v8'

export const HEAP_GROWING_PERCENT = 30

const FLAG = '--heap-growing-percent'

export function operatorSetHeapGrowth (execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  // V8 takes --heap_growing_percent as the same flag.
  const given = (arg: string): boolean => arg.split('=')[0]!.replaceAll('_', '-') === FLAG
  return execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given)
}

// Called once by each command that runs the proxy (start, a cluster worker, lab). The flag is read at
// every major collection, so setting it after V8 started takes effect from the next one.
export function applyHeapPolicy (execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  if (operatorSetHeapGrowth(execArgv, nodeOptions)) return false
  v8.setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`)
  return true
}
