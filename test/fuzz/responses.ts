// Splits what a client connection received into HTTP/1.1 responses, by their framing, so that each
// can be matched to the request it answers. Anything that does not parse as a response is reported
// with its offset: a proxy must never send a client bytes that are not a response.
export interface ParsedResponse {
  status: number
  head: string
  fields: Array<[string, string]>
  body: string
  // The body arrived whole, as framed (a close-delimited body: the connection ended).
  complete: boolean
}

export interface ParsedStream {
  // Final responses, in order (1xx interim responses are left out).
  responses: ParsedResponse[]
  interim: number
  // Why the bytes stopped parsing, with the offset; '' when they all did.
  error: string
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*$/
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/

export function field (r: { fields: Array<[string, string]> }, name: string): string | undefined {
  const lower = name.toLowerCase()
  return r.fields.find(([n]) => n.toLowerCase() === lower)?.[1]
}

// `methodOf(i, at)` is the method of the request the i-th final response (its head at offset `at`)
// answers (HEAD has no body);
// `ended`: the connection has ended, so a close-delimited body is complete.
export function parseResponses (text: string, methodOf: (i: number, at: number) => string, ended: boolean): ParsedStream {
  const out: ParsedStream = { responses: [], interim: 0, error: '' }
  let p = 0
  while (p < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', p)
    if (headEnd < 0) {
      // A head cut short (by the end of the connection, or not all here yet): a response that began.
      const rest = text.slice(p)
      if (!/^HTTP\/1\.[01] /.test(rest) && !'HTTP/1.1 '.startsWith(rest)) {
        out.error = `bytes that are not a response at offset ${p}: ${JSON.stringify(rest.slice(0, 60))}`
        return out
      }
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(rest)
      out.responses.push({ status: m === null ? 0 : Number(m[1]), head: rest, fields: [], body: '', complete: false })
      return out
    }
    const start = p
    const head = text.slice(p, headEnd + 4)
    const lines = head.slice(0, -4).split('\r\n')
    const m = STATUS_LINE.exec(lines[0]!)
    if (m === null) {
      out.error = `bytes that are not a response at offset ${p}: ${JSON.stringify(text.slice(p, p + 60))}`
      return out
    }
    const status = Number(m[1])
    const fields: Array<[string, string]> = []
    for (const line of lines.slice(1)) {
      const f = FIELD.exec(line)
      if (f === null) { out.error = `bad field line in a response at offset ${p}: ${JSON.stringify(line)}`; return out }
      fields.push([f[1]!, f[2]!])
    }
    p = headEnd + 4
    if (status >= 100 && status < 200 && status !== 101) { out.interim++; continue }
    const r: ParsedResponse = { status, head, fields, body: '', complete: true }
    out.responses.push(r)
    const te = fields.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v.toLowerCase())
    const cls = fields.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v)
    if (methodOf(out.responses.length - 1, start) === 'HEAD' || status === 204 || status === 304) continue
    if (te.length > 0) {
      if (cls.length > 0 || te.length > 1 || te[0] !== 'chunked') { out.error = `ambiguous response framing at offset ${headEnd}: ${JSON.stringify(head)}`; return out }
      // Chunked: size lines, data, an empty trailer section.
      for (;;) {
        const eol = text.indexOf('\r\n', p)
        if (eol < 0) { r.complete = false; return out }
        const size = /^([0-9a-fA-F]+)(;.*)?$/.exec(text.slice(p, eol))
        if (size === null) { out.error = `bad chunk size in a response at offset ${p}: ${JSON.stringify(text.slice(p, eol))}`; return out }
        const n = parseInt(size[1]!, 16)
        p = eol + 2
        if (n === 0) {
          for (;;) {
            const t = text.indexOf('\r\n', p)
            if (t < 0) { r.complete = false; return out }
            const line = text.slice(p, t)
            p = t + 2
            if (line === '') break
          }
          break
        }
        if (text.length < p + n + 2) { r.body += text.slice(p, p + n); r.complete = false; return out }
        r.body += text.slice(p, p + n)
        if (text.slice(p + n, p + n + 2) !== '\r\n') { out.error = `chunk data not followed by CRLF in a response at offset ${p + n}`; return out }
        p += n + 2
      }
      continue
    }
    if (cls.length > 1 && new Set(cls).size > 1) { out.error = `two Content-Length values in a response: ${JSON.stringify(head)}`; return out }
    if (cls.length > 0) {
      if (!/^\d+$/.test(cls[0]!)) { out.error = `bad Content-Length in a response: ${JSON.stringify(head)}`; return out }
      const n = Number(cls[0])
      r.body = text.slice(p, p + n)
      if (r.body.length < n) { r.complete = false; return out }
      p += n
      continue
    }
    // Delimited by the close of the connection.
    r.body = text.slice(p)
    r.complete = ended
    return out
  }
  return out
}
