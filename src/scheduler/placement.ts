/**
 * Where a new instance goes: pure, so every rule can be unit tested.
 *
 * A node is a candidate when it is ready, satisfies the app's constraints
 * (zones, labels), and has room for the instance's cpu and memory next to
 * what its live instances already ask for. Among candidates the choice
 * spreads the app: fewest of its instances in the node's zone first, then on
 * the node itself, then the least loaded node (the larger of its cpu and
 * memory fractions after placing), then the name, so equal inputs always give
 * the same answer.
 */
import type { Capacity, InstanceRecord, NodeInfo } from './model.js';
import type { AppSpec } from './spec.js';

/** Why no node could take an instance, for `app ls`. */
export interface NoRoom {
  reason: string;
}

/** Instances that hold resources on their node: placed and not yet gone. */
const holds = (i: InstanceRecord) => i.nodeId !== undefined;

/** What the instances placed on `nodeId` ask for in all. */
export function used(nodeId: string, instances: readonly InstanceRecord[]): Capacity {
  let cpu = 0;
  let memoryBytes = 0;
  for (const i of instances) {
    if (!holds(i) || i.nodeId !== nodeId) continue;
    cpu += i.spec.resources.cpu;
    memoryBytes += i.spec.resources.memoryBytes;
  }
  return { cpu, memoryBytes };
}

export function satisfies(node: NodeInfo, spec: AppSpec): boolean {
  const { zones, labels } = spec.constraints;
  if (zones && !zones.includes(node.zone)) return false;
  return Object.entries(labels).every(([k, v]) => node.labels[k] === v);
}

// Sums of fractional cores (0.1 + 0.2) must not make a full node look over-full.
const EPSILON = 1e-9;

/**
 * The node for a new instance of `app`, or why there is none. `instances` are
 * all live instances of every app.
 */
export function chooseNode(
  app: string,
  spec: AppSpec,
  nodes: readonly NodeInfo[],
  instances: readonly InstanceRecord[],
): { nodeId: string } | NoRoom {
  const ready = nodes.filter((n) => n.state === 'ready');
  if (ready.length === 0) return { reason: 'no ready nodes' };
  const eligible = ready.filter((n) => satisfies(n, spec));
  if (eligible.length === 0) return { reason: 'no ready node satisfies the constraints' };
  const want = spec.resources;
  const fitting = eligible
    .map((node) => {
      const u = used(node.id, instances);
      const cpu = (u.cpu + want.cpu) / node.capacity.cpu;
      const memory = (u.memoryBytes + want.memoryBytes) / node.capacity.memoryBytes;
      return { node, load: Math.max(cpu, memory), fits: cpu <= 1 + EPSILON && memory <= 1 + EPSILON };
    })
    .filter((c) => c.fits);
  if (fitting.length === 0) {
    return { reason: `no node has room for ${want.cpu} cpu and ${want.memoryBytes} bytes of memory` };
  }
  const mine = instances.filter((i) => i.app === app && holds(i));
  const zoneOf = new Map(nodes.map((n) => [n.id, n.zone]));
  const inZone = (zone: string) => mine.filter((i) => zoneOf.get(i.nodeId!) === zone).length;
  const onNode = (id: string) => mine.filter((i) => i.nodeId === id).length;
  const ranked = fitting
    .map((c) => ({ ...c, zone: inZone(c.node.zone), here: onNode(c.node.id) }))
    .sort((a, b) => a.zone - b.zone || a.here - b.here || a.load - b.load || a.node.name.localeCompare(b.node.name));
  return { nodeId: ranked[0].node.id };
}
