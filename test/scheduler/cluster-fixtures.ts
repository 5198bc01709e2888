/** Nodes and app specs for the scheduler's unit tests. */
import type { NodeInfo } from '../../src/scheduler/model.js';
import { type AppSpec, validateAppSpec } from '../../src/scheduler/spec.js';

export const GiB = 2 ** 30;

export function node(name: string, zone: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id: name,
    name,
    zone,
    labels: {},
    capacity: { cpu: 4, memoryBytes: 8 * GiB },
    address: '127.0.0.1',
    lastSeenMs: 0,
    state: 'ready',
    ...extra,
  };
}

export function spec(extra: Record<string, unknown> = {}): AppSpec {
  return validateAppSpec({ name: 'web', command: 'true', ...extra });
}
