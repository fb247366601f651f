// UCWA's XML representation (PayloadFormat.md, "XML representation"), made from the JSON one the
// routes build:
// - a resource is <resource rel href>, its self link being those attributes;
// - every other link is <link rel href/>, repeated for a list;
// - a property is <property name>, a list of values is <propertyList name><item>;
// - an embedded resource is a <resource> inside it;
// - dates are ISO 8601 in XML.
// The event channel's answer has its own elements (EventChannelDetails.md, "Sample XML event
// response"), and the error body is <reason> (ErrorsAndInformationalMessages.md, "Error sample - XML").
// Requests are still read as JSON only.
import { escapeMarkup } from '../markup.js'

const NS = 'http://schemas.microsoft.com/rtc/2012/03/ucwa'
const DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
export const UCWA_XML = 'application/vnd.microsoft.com.ucwa+xml'
// PayloadFormat.md: "XML, with content type application/xml", the precise one being UCWA_XML.
const XML_TYPES = new Set([UCWA_XML, 'application/xml'])
const JSON_TYPES = new Set(['application/vnd.microsoft.com.ucwa+json', 'application/json'])

type Json = Record<string, unknown>
interface Link { href?: unknown, title?: unknown }

// The XML type the client asked for, when it prefers XML to JSON; undefined for JSON (also when the
// client names neither, as UCWA's default is JSON).
export function xmlTypeWanted (accept: string | string[] | undefined): string | undefined {
  if (accept === undefined) return undefined
  let best: { type: string, q: number } | undefined
  let json = 0
  for (const item of (Array.isArray(accept) ? accept.join(',') : accept).split(',')) {
    const [range = '', ...params] = item.split(';').map((p) => p.trim())
    const type = range.toLowerCase()
    const qParam = params.find((p) => /^q\s*=/i.test(p))
    const q = qParam === undefined ? 1 : Number(qParam.split('=')[1])
    if (!Number.isFinite(q) || q <= 0) continue
    if (XML_TYPES.has(type) && (best === undefined || q > best.q)) best = { type, q }
    if (JSON_TYPES.has(type)) json = Math.max(json, q)
  }
  return best !== undefined && best.q > json ? best.type : undefined
}

// Text a client set (a note, a subject) may hold characters XML 1.0 cannot carry; they become U+FFFD
// so that the document stays well-formed.
function text (value: string): string {
  // eslint-disable-next-line no-control-regex
  return escapeMarkup(value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'))
}

const attr = (name: string, value: unknown): string => typeof value === 'string' ? ` ${name}="${text(value)}"` : ''

function scalar (value: unknown): string {
  if (typeof value === 'string') {
    const date = /^\/Date\((-?\d{1,15})\)\/$/.exec(value)
    const ms = date === null ? NaN : Number(date[1])
    return date !== null && Number.isFinite(new Date(ms).getTime()) ? new Date(ms).toISOString() : text(value)
  }
  return text(String(value))
}

function links (body: Json): string {
  const out: string[] = []
  for (const [rel, link] of Object.entries((body._links ?? {}) as Record<string, Link | Link[]>)) {
    if (rel === 'self') continue
    for (const l of Array.isArray(link) ? link : [link]) out.push(`<link rel="${text(rel)}"${attr('href', l.href)}${attr('title', l.title)}/>`)
  }
  return out.join('')
}

function properties (body: Json): string {
  const out: string[] = []
  for (const [name, value] of Object.entries(body)) {
    if (name === 'rel' || name === '_links' || name === '_embedded' || value === undefined) continue
    if (Array.isArray(value)) {
      out.push(`<propertyList name="${text(name)}">${value.map((v) => `<item>${scalar(v)}</item>`).join('')}</propertyList>`)
    } else if (value === null || value === '') {
      out.push(`<property name="${text(name)}"/>`)
    } else if (typeof value !== 'object') {
      out.push(`<property name="${text(name)}">${scalar(value)}</property>`)
    }
  }
  return out.join('')
}

function resource (body: Json, rel: string, ns: string): string {
  const self = (body._links as Record<string, Link> | undefined)?.self?.href
  const embedded: string[] = []
  for (const [name, value] of Object.entries((body._embedded ?? {}) as Record<string, Json | Json[]>)) {
    for (const item of Array.isArray(value) ? value : [value]) embedded.push(resource(item, name, ''))
  }
  return `<resource rel="${text(typeof body.rel === 'string' ? body.rel : rel)}"${attr('href', self)}${ns}>${links(body)}${properties(body)}${embedded.join('')}</resource>`
}

// One event: its type as the element, its link as rel, href and title (a participant's name), an
// embedded resource inside.
function event (e: Json): string {
  const type = typeof e.type === 'string' && /^[A-Za-z]+$/.test(e.type) ? e.type : 'updated'
  const link = (e.link ?? {}) as { rel?: unknown, href?: unknown, title?: unknown }
  const inner = Object.entries((e._embedded ?? {}) as Record<string, Json>).map(([name, value]) => resource(value, name, '')).join('')
  const head = `<${type}${attr('rel', link.rel)}${attr('href', link.href)}${attr('title', link.title)}`
  return inner === '' ? `${head}/>` : `${head}>${inner}</${type}>`
}

function events (body: Json): string {
  const all = (body._links ?? {}) as Record<string, Link>
  const senders = ((body.sender ?? []) as Json[]).map((s) =>
    `<sender${attr('rel', s.rel)}${attr('href', s.href)}>${((s.events ?? []) as Json[]).map(event).join('')}</sender>`)
  const others = Object.entries(all).filter(([rel]) => rel !== 'self').map(([rel, l]) => `<link rel="${text(rel)}"${attr('href', l.href)}/>`)
  return `<events${attr('href', all.self?.href)} xmlns="${NS}">${others.join('')}${senders.join('')}</events>`
}

function reason (body: Json): string {
  const field = (name: string): string => typeof body[name] === 'string' ? `<${name}>${text(body[name] as string)}</${name}>` : ''
  return `<reason xmlns="${NS}">${field('code')}${field('subcode')}${field('message')}</reason>`
}

export function toUcwaXml (body: unknown): string {
  const json = (typeof body === 'object' && body !== null ? body : {}) as Json
  const isEvents = 'sender' in json || (json._links as Json | undefined)?.resync !== undefined
  const isError = typeof json.code === 'string' && json._links === undefined
  return DECLARATION + (isEvents ? events(json) : isError ? reason(json) : resource(json, 'resource', ` xmlns="${NS}"`))
}
