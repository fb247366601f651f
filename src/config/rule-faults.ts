// A rule's injected faults set on a resolved config, for the lab API (startLab({ faults }),
// lab.setFault) and `lyncproxy lab --fault`: one implementation, and one error for a rule name the
// config does not have.
import { LyncProxyError } from '../errors.js'
import { deepFreeze, type ResolvedConfig } from './defaults.js'
import type { FaultConfig } from './schema.js'

// A new, frozen config whose rule `rule` has `fault` (none with undefined).
export function withRuleFault (config: ResolvedConfig, rule: string, fault: FaultConfig | undefined): ResolvedConfig {
  if (!config.rules.some((r) => r.name === rule)) {
    throw new LyncProxyError('LRP_ERR_USAGE', `the configuration has no rule ${rule}`, { fix: `use one of ${config.rules.map((r) => r.name).join(', ')}` })
  }
  const rules = config.rules.map((r) => {
    if (r.name !== rule) return r
    const { fault: _old, ...rest } = r
    return fault === undefined ? rest : { ...rest, fault }
  })
  return deepFreeze({ ...structuredClone(config), rules: structuredClone(rules) }) as ResolvedConfig
}
