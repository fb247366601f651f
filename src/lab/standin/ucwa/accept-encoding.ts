// Whether an Accept-Encoding field allows a gzip answer (RFC 9110, 12.5.3): gzip (or its alias
// x-gzip) listed with a weight above 0, or `*` above 0 when gzip is not listed itself. A missing
// field allows only identity here: IIS compresses only for a client that asks.
export function acceptsGzip (field: string | string[] | undefined): boolean {
  if (field === undefined) return false
  const list = Array.isArray(field) ? field.join(',') : field
  let named: number | undefined
  let star: number | undefined
  for (const item of list.split(',')) {
    const [coding = '', ...params] = item.split(';').map((p) => p.trim())
    const name = coding.toLowerCase()
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue
    const weight = weightOf(params)
    if (name === '*') star = Math.max(star ?? 0, weight)
    else named = Math.max(named ?? 0, weight)
  }
  return (named ?? star ?? 0) > 0
}

// The q parameter: 1 when absent, 0 when it is not a valid weight (a garbled q is no consent).
function weightOf (params: string[]): number {
  for (const p of params) {
    const m = /^q\s*=\s*(.*)$/i.exec(p)
    if (m === null) continue
    return /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(m[1] as string) ? Number(m[1]) : 0
  }
  return 1
}
