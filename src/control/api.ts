/**
 * The control plane's HTTP API (JSON over 127.0.0.1), as the CLI and node
 * agents see it. docs/SCHEDULER.md lists the endpoints.
 */
import type { AppRecord, Capacity, InstanceRecord, InstanceStatus, NodeInfo } from '../scheduler/model.js';
import type { AppSpec } from '../scheduler/spec.js';

/** Bumped when a request or response changes incompatibly; agents send it when they register. */
export const API_VERSION = 1;

/** A node agent introducing itself; `id` is kept in its state directory, so a restarted agent is the same node. */
export type RegisterRequest = { api: number } & Pick<NodeInfo, 'id' | 'name' | 'zone' | 'labels' | 'capacity' | 'address'>;

/** One line of container output, as agents send it and `cairn app logs` prints it. */
export interface LogLine {
  instance: string;
  stream: 'stdout' | 'stderr';
  atMs: number;
  text: string;
}

export interface HeartbeatRequest {
  /** Every instance the node runs (or is still stopping), with its status. */
  instances: ({ id: string } & InstanceStatus)[];
  logs: LogLine[];
}

/** What a node should run: the instance, and what it needs to start it. */
export interface Assignment {
  id: string;
  app: string;
  slot: number;
  version: number;
  spec: AppSpec;
  takeover: boolean;
}

export interface HeartbeatResponse {
  instances: Assignment[];
}

export interface InstanceView extends Omit<InstanceRecord, 'spec'> {
  node?: string;
  /** Why no node could take it (pending instances). */
  pending?: string;
}

export interface AppView extends AppRecord {
  /** The app's public names, one per zone. */
  hosts: string[];
  instances: InstanceView[];
}

export interface NodeView extends NodeInfo {
  /** Since its last heartbeat, by the control plane's clock. */
  silentMs: number;
  instances: number;
  /** What its instances ask for. */
  used: Capacity;
}

export interface DeployResponse {
  app: AppView;
  /** False when the spec was the same as the deployed one. */
  changed: boolean;
}

export interface LogsResponse {
  lines: (LogLine & { seq: number })[];
  /** Pass as `after` to get only newer lines. */
  next: number;
}
