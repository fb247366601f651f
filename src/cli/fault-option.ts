// `--fault RULE:FIELD=VALUE[,FIELD=VALUE]` on `lyncproxy lab`: a rule's injected faults from the
// command line, the same fields as rules.<name>.fault (delay=2, abort=503, reset, stall,
// truncateAfter=1024, cutAfter=60, percent=25). A bare field is true. Checked against the same
// schema as the config file, so a typo is refused with the field's expected form.
import { Value } from '@sinclair/typebox/value'
import type { ResolvedConfig } from '../config/defaults.js'
import { withRuleFault } from '../config/rule-faults.js'
import { FaultSchema, type FaultConfig } from '../config/schema.js'
import { LyncProxyError } from '../errors.js'

export function parseFaultOption (text: string): { rule: string, fault: FaultConfig } {
  const colon = text.indexOf(':')
  const usage = (why: string): LyncProxyError => new LyncProxyError('LRP_ERR_USAGE', `--fault ${text}: ${why}`, {
    fix: 'write --fault RULE:FIELD=VALUE[,FIELD=VALUE], for example --fault webext:abort=503 or --fault webext-longpoll:cutAfter=60',
  })
  if (colon <= 0 || colon === text.length - 1) throw usage('no rule name, or no fault after it')
  const rule = text.slice(0, colon)
  const fault: Record<string, unknown> = {}
  for (const part of text.slice(colon + 1).split(',')) {
    const [field, raw] = part.split('=', 2) as [string, string | undefined]
    if (!(field in FaultSchema.properties)) throw usage(`unknown field '${field}': use ${Object.keys(FaultSchema.properties).join(', ')}`)
    fault[field] = raw === undefined ? true : raw === 'true' ? true : raw === 'false' ? false : Number(raw)
  }
  if (!Value.Check(FaultSchema, fault)) {
    const first = [...Value.Errors(FaultSchema, fault)][0]
    throw usage(`${first?.path.slice(1) ?? 'a field'}: ${first?.message ?? 'not valid'}`)
  }
  return { rule, fault }
}

// The config with each named rule's fault set; a rule the config does not have is refused.
export function withFaults (config: ResolvedConfig, faults: ReadonlyArray<{ rule: string, fault: FaultConfig }>): ResolvedConfig {
  return faults.reduce((c, { rule, fault }) => withRuleFault(c, rule, fault), config)
}
