// Which of the three autodiscover representations a client asked for. Lync picks it from Accept:
// the MS-OCDISCWS XML media type, plain application/json for UCWA clients, and the MS-OCDISCWS JSON
// for everything else, including no Accept at all (browsers and the GeoDNS health probe).
export type Representation = 'xml' | 'ucwa' | 'ocdisc'

const XML_TYPE = 'application/vnd.microsoft.rtc.autodiscover+xml'
const JSON_TYPE = 'application/vnd.microsoft.rtc.autodiscover+json'

interface MediaRange { type: string; q: number; order: number }

function parseAccept (accept: string): MediaRange[] {
  return accept.split(',').map((part, order) => {
    const [type = '', ...params] = part.split(';')
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)
      if (m !== null) q = Number(m[1])
    }
    return { type: type.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, order }
  })
}

export function chooseRepresentation (accept: string | undefined): Representation {
  if (accept === undefined || accept.trim() === '') return 'ocdisc'
  // Highest q first; among equals, the client's own order.
  const ranges = parseAccept(accept).filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.order - b.order)
  for (const r of ranges) {
    if (r.type === XML_TYPE) return 'xml'
    if (r.type === JSON_TYPE) return 'ocdisc'
    if (r.type === 'application/json') return 'ucwa'
  }
  return 'ocdisc'
}
