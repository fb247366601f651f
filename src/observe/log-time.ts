// The "time" field of every log line, as pino's isoTime writes it, formatted once per millisecond.
// Why: the access log writes a line per exchange, and Date#toISOString was a visible part of the
// CPU a proxied GET takes on the benchmark machine (bench/results/2026-11-22-design-measurements.md);
// at thousands of requests per second most lines share their millisecond with the line before.
let lastMs = -1
let lastField = ''

export function isoTimeField (): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastField = ',"time":"' + new Date(now).toISOString() + '"'
  }
  return lastField
}
