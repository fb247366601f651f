// The multipart/batching body of UCWA's batch resource (BatchingRequests.md, batch_ref.md): MIME
// parts of type `application/http; msgtype=request`, each an HTTP request with its request line,
// header fields and body; the answer has the same shape with `msgtype=response` parts. Lines may end
// in CRLF or LF, as the reference's own samples differ.

export interface BatchPart {
  method: string
  path: string
  headers: Array<[string, string]>
  body: Buffer
}

export interface BatchAnswer {
  status: number
  reason: string
  headers: Array<[string, string]>
  body: Buffer
}

// The boundary from a Content-Type such as `multipart/batching;boundary="77f2…"`; undefined when the
// type is another or carries no boundary (RFC 2046, 5.1.1: 1 to 70 characters).
export function batchBoundary (contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  const [type = '', ...params] = contentType.split(';').map((p) => p.trim())
  if (type.toLowerCase() !== 'multipart/batching') return undefined
  for (const p of params) {
    const m = /^boundary\s*=\s*(?:"([^"]{1,70})"|([^\s";]{1,70}))$/i.exec(p)
    if (m !== null) return m[1] ?? m[2]
  }
  return undefined
}

// Splits a body at its delimiter lines. Returns the parts, or what is wrong with the body. Bodies are
// kept byte for byte: only the line break before a delimiter belongs to the delimiter (RFC 2046, 5.1.1).
export function parseBatch (body: Buffer, boundary: string): BatchPart[] | string {
  const text = body.toString('latin1')
  const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const delimiter = new RegExp(`(?:^|\r?\n)--${escaped}(--)?[ \t]*(?:\r?\n|$)`, 'g')
  const parts: string[] = []
  let start: number | undefined
  let closed = false
  for (const m of text.matchAll(delimiter)) {
    if (start !== undefined) parts.push(text.slice(start, m.index))
    if (m[1] === '--') { closed = true; break }
    start = m.index + m[0].length
  }
  if (!closed) return `the body does not end with the delimiter --${boundary}--`
  const out: BatchPart[] = []
  for (const [i, raw] of parts.entries()) {
    const part = parsePart(raw)
    if (typeof part === 'string') return `part ${i + 1}: ${part}`
    out.push(part)
  }
  return out
}

// The header section of a MIME part or an HTTP message, and what follows its blank line.
function splitHead (text: string): { head: string[]; rest: string } | undefined {
  const m = /\r?\n\r?\n/.exec(text)
  if (m === null) return undefined
  return { head: text.slice(0, m.index).split(/\r?\n/), rest: text.slice(m.index + m[0].length) }
}

function parsePart (raw: string): BatchPart | string {
  // A part whose MIME header section is empty starts with its blank line.
  const mimeSplit = /^\r?\n/.test(raw) ? { head: [], rest: raw.replace(/^\r?\n/, '') } : splitHead(raw)
  if (mimeSplit === undefined) return 'no blank line after its MIME header fields'
  const mime = headerFields(mimeSplit.head)
  if (typeof mime === 'string') return mime
  const type = mime.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? ''
  if (!/^application\/http\s*;\s*msgtype\s*=\s*request\s*$/i.test(type)) return `Content-Type is "${type}", not application/http; msgtype=request`
  const message = splitHead(mimeSplit.rest) ?? { head: mimeSplit.rest.split(/\r?\n/), rest: '' }
  const [line = '', ...fields] = message.head
  const requestLine = /^([A-Za-z]+) (\/\S*) HTTP\/1\.[01]$/.exec(line)
  if (requestLine === null) return `the request line "${line}" is not METHOD /path HTTP/1.1`
  const headers = headerFields(fields.filter((f) => f !== ''))
  if (typeof headers === 'string') return headers
  return { method: (requestLine[1] as string).toUpperCase(), path: requestLine[2] as string, headers, body: Buffer.from(message.rest, 'latin1') }
}

function headerFields (lines: string[]): Array<[string, string]> | string {
  const out: Array<[string, string]> = []
  for (const line of lines) {
    // The reference's JSON sample puts a space before the colon ("Content-Type : …").
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*)$/.exec(line)
    if (m === null) return `"${line}" is not a header field`
    out.push([m[1] as string, (m[2] as string).trim()])
  }
  return out
}

export function formatBatchAnswer (answers: BatchAnswer[], boundary: string): Buffer {
  const chunks: Buffer[] = []
  for (const a of answers) {
    const head = [`--${boundary}`, 'Content-Type: application/http; msgtype=response', '', `HTTP/1.1 ${a.status} ${a.reason}`, ...a.headers.map(([n, v]) => `${n}: ${v}`), '', '']
    chunks.push(Buffer.from(head.join('\r\n'), 'latin1'), a.body, Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}
