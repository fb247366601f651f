// What the admin plane needs from a cluster of workers when it runs in the primary (workers > 1):
// every answer that depends on traffic or live pool state comes from the workers, combined.
// src/cluster/control.ts implements it.
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client'
import type { TrafficEntry } from '../observe/traffic.js'
import type { ClusterReadiness, DrainReply } from './schemas.js'
import type { ReloadResult } from '../control/reload.js'

// Answers the admin API serializes: their types are derived from its schemas (schemas.ts).
export type { ClusterReadiness, WorkerState } from './schemas.js'
export type { DrainReply as ClusterDrainReply } from './schemas.js'

export interface AdminCluster {
  readonly workers: number
  // Ready while at least one worker serves and the cluster is not stopping: the node can take
  // traffic while a dead worker's replacement starts.
  readiness (): Promise<ClusterReadiness>
  // Each ready worker's registry as JSON, for prom-client's AggregatorRegistry.aggregate().
  workerMetrics (): Promise<Array<Array<MetricObjectWithValues<MetricValue<string>>>>>
  // The cluster's own metrics (workers, restarts), registered in the admin plane's registry.
  registerMetrics (registry: Registry): void
  traffic (): Promise<TrafficEntry[]>
  reload (): Promise<ReloadResult>
  // undefined when no worker knows the member.
  setDraining (pool: string, member: string, draining: boolean): Promise<DrainReply | undefined>
}
