/**
 * What the scheduler reasons about: nodes, apps and their instances, as the
 * control plane stores them and node agents report on them.
 */
import type { AppSpec } from './spec.js';

export interface Capacity {
  /** Cores. */
  cpu: number;
  memoryBytes: number;
}

export interface NodeInfo {
  id: string;
  name: string;
  zone: string;
  labels: Record<string, string>;
  capacity: Capacity;
  /** Where the node's instances are reached (the router connects to address:port). */
  address: string;
  /** The control plane's clock at the node's last heartbeat. */
  lastSeenMs: number;
  /** `lost` once it missed heartbeats for the node timeout; its instances are then rescheduled. */
  state: 'ready' | 'lost';
}

export interface AppRecord {
  name: string;
  /** Six of [a-z0-9], kept across versions: part of the app's public names. */
  id: string;
  /** Grows by one with every deploy that changes the spec. */
  version: number;
  spec: AppSpec;
}

/** What a node agent reports about one instance it runs. */
export interface InstanceStatus {
  state: 'starting' | 'running' | 'backoff' | 'stopping';
  healthy: boolean;
  /** Host port for each of the app's port names. */
  ports: Record<string, number>;
  /** Container restarts on this node. */
  restarts: number;
  exitCode?: number;
  /** Why the last start or run failed, for people. */
  error?: string;
  /** The lease epoch under which each volume is mounted read-write (0 for read-only mounts). */
  volumes: { name: string; epoch: number }[];
}

export interface InstanceRecord {
  /** `<app>-<slot>-<n>`: the container name on its node. */
  id: string;
  app: string;
  /** Which of the app's replicas (0 .. replicas-1) this instance is. */
  slot: number;
  /** The app version it runs, and that version's spec (an old version keeps running its own during a rollout). */
  version: number;
  spec: AppSpec;
  /** Unset while no node has room (pending). */
  nodeId?: string;
  /** `stop`: the node should stop it; the record goes once the node no longer reports it. */
  desired: 'run' | 'stop';
  /**
   * Its slot's last instance was on a node that was lost: mount its volumes
   * with a takeover (a higher lease epoch fences the lost node out).
   */
  takeover: boolean;
  /** The latest report from its node; unset until the node has reported it. */
  status?: InstanceStatus;
}

/** Healthy as far as the control plane knows: running, and its health check (if any) passes. */
export const isHealthy = (i: InstanceRecord): boolean => i.status?.state === 'running' && i.status.healthy;
