// The running configuration as /api/config shows it. The config holds no secret values, only where
// they are (environment variable names, file paths), but those still tell an attacker where to look,
// and the lab's users carry their passwords in clear: all of them are masked.
import type { ResolvedConfig } from '../config/defaults.js'

const REDACTED = '[redacted]'
const SECRET_KEYS = new Set(['tokenEnv', 'tokenFile', 'passphraseEnv', 'passphraseFile', 'password'])

export function redactConfig (config: ResolvedConfig): unknown {
  return redact(config)
}

function redact (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) && v !== undefined ? REDACTED : redact(v)
  return out
}
