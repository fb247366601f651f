// The messages between a cluster primary and its workers, over the IPC channel node:cluster opens
// with each worker. Every message carries a `lyncproxy` tag: the channel is shared with node's own
// cluster messages and anything a library sends.
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { Readiness } from '../admin/readiness.js'
import type { ListenerAddress } from '../control/proxy.js'
import type { TrafficEntry } from '../observe/traffic.js'

// A member an operator took out of rotation: the primary remembers it, so that a worker started
// later (a restart) drains it too.
export interface DrainSetting {
  pool: string
  member: string
}

export interface DrainReply {
  pool: string
  member: string
  draining: boolean
  active: number
}

export interface ReadyInfo {
  listeners: ListenerAddress[]
  tcpFrontends: Array<{ name: string, address: string, port: number }>
  generation: number
}

// What a worker starts with. The primary sends the text of the file it runs rather than letting the
// worker read the file: a worker restarted after the file was edited (or broken) must run what its
// siblings run, and a reload must give every worker the same bytes.
export interface StartPayload {
  slot: number
  text: string
  drains: DrainSetting[]
}

export type WorkerOp =
  | { name: 'reload', text: string }
  | { name: 'status' }
  | { name: 'metrics' }
  | { name: 'traffic' }
  | { name: 'drain', pool: string, member: string, draining: boolean }

export interface OpResults {
  reload: { generation: number }
  status: Readiness
  metrics: Array<MetricObjectWithValues<MetricValue<string>>>
  traffic: TrafficEntry[]
  drain: DrainReply | null
}

export type OpName = WorkerOp['name']

export type WorkerMessage =
  | { lyncproxy: 'hello' }
  | ({ lyncproxy: 'ready' } & ReadyInfo)
  // Start-up failed; `error` is the formatted error (file, line, fix) and exitCode its exit status.
  | { lyncproxy: 'failed', error: string, exitCode: number }
  | { lyncproxy: 'reply', id: number, ok: true, value: unknown }
  | { lyncproxy: 'reply', id: number, ok: false, error: string }

export type PrimaryMessage =
  | ({ lyncproxy: 'start' } & StartPayload)
  | { lyncproxy: 'request', id: number, op: WorkerOp }

export function isWorkerMessage (m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { lyncproxy?: unknown }).lyncproxy === 'string'
}

export function isPrimaryMessage (m: unknown): m is PrimaryMessage {
  return typeof m === 'object' && m !== null && typeof (m as { lyncproxy?: unknown }).lyncproxy === 'string'
}
