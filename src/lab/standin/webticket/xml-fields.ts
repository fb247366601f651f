// Reading the few fields the web ticket service needs out of a SOAP request or a SAML assertion,
// without an XML parser: the first element with a given local name, whatever its prefix, and its
// text or one attribute. The patterns are linear (no nested quantifiers), so a hostile body costs
// time proportional to its length; anything that does not match reads as absent.

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

export function decodeXmlText (text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (whole, name: string) => {
    if (name.startsWith('#x')) return codePoint(parseInt(name.slice(2), 16), whole)
    if (name.startsWith('#')) return codePoint(parseInt(name.slice(1), 10), whole)
    return ENTITIES[name] ?? whole
  })
}

function codePoint (n: number, fallback: string): string {
  return n <= 0x10ffff ? String.fromCodePoint(n) : fallback
}

// The start tag of the first element named `local` (any prefix), or undefined.
export function startTag (xml: string, local: string): string | undefined {
  const m = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${local}(?=[\\s/>])[^>]*>`).exec(xml)
  return m?.[0]
}

// The text between the first `<…local …>` and the next closing tag of the same local name.
export function elementText (xml: string, local: string): string | undefined {
  const open = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${local}(?=[\\s>])[^>]*>`).exec(xml)
  if (open === null) return undefined
  const from = open.index + open[0].length
  const close = new RegExp(`</(?:[A-Za-z_][\\w.-]*:)?${local}\\s*>`).exec(xml.slice(from))
  return close === null ? undefined : decodeXmlText(xml.slice(from, from + close.index))
}

// The whole first element named `local`, from its start tag to its closing tag, as it was sent.
export function rawElement (xml: string, local: string): string | undefined {
  const open = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${local}(?=[\\s>])[^>]*>`).exec(xml)
  if (open === null) return undefined
  const close = new RegExp(`</(?:[A-Za-z_][\\w.-]*:)?${local}\\s*>`).exec(xml.slice(open.index))
  return close === null ? undefined : xml.slice(open.index, open.index + close.index + close[0].length)
}

export function attribute (tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s(?:[A-Za-z_][\\w.-]*:)?${name}\\s*=\\s*("[^"]*"|'[^']*')`).exec(tag)
  return m === null ? undefined : decodeXmlText((m[1] as string).slice(1, -1))
}
