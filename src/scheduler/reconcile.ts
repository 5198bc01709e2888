/**
 * The scheduler's decisions, as one pure function from the cluster's state to
 * a plan the control plane applies (and unit tests read):
 *
 * - A ready node silent for longer than the node timeout is lost. Its
 *   instances are dropped; each replacement mounts its volumes with a
 *   takeover, whose higher lease epoch fences the lost node out for good.
 * - Every replica slot 0 .. replicas-1 of an app gets an instance, placed by
 *   chooseNode (or left pending, with the reason, until a node has room).
 * - A new version rolls one slot at a time: the next slot starts only once
 *   every slot's current-version instance is healthy. Without read-write
 *   volumes the new instance starts beside the old one, which stops when the
 *   new one is healthy; with one, the old instance stops first and the new one
 *   starts once its node reports it gone (one writer per volume).
 * - Instances of removed apps and of slots past `replicas` are stopped.
 */
import { type AppRecord, type InstanceRecord, type NodeInfo, isHealthy } from './model.js';
import { chooseNode } from './placement.js';
import { writableVolumes } from './spec.js';

export interface ClusterState {
  apps: readonly AppRecord[];
  nodes: readonly NodeInfo[];
  instances: readonly InstanceRecord[];
}

export interface ReconcileOptions {
  nowMs: number;
  /** Heartbeats may be missed for this long before a node is lost. */
  nodeTimeoutMs: number;
  /** A fresh, unique instance id for a new instance of `app` in `slot`. */
  newInstanceId: (app: string, slot: number) => string;
}

export interface Plan {
  /** Nodes to mark lost. */
  lost: string[];
  /** Instances to forget: their node is lost or gone, or they never got one. */
  remove: string[];
  /** Instances whose node should stop them. */
  stop: string[];
  /** New instances, placed or pending. */
  create: InstanceRecord[];
  /** Pending instances that now have a node. */
  place: { id: string; nodeId: string }[];
  /** Instances (new or old) still without a node, and why. */
  pending: { id: string; reason: string }[];
}

export const emptyPlan = (plan: Plan): boolean =>
  plan.lost.length + plan.remove.length + plan.stop.length + plan.create.length + plan.place.length === 0;

const slotKey = (app: string, slot: number) => `${app}/${slot}`;

export function reconcile(state: ClusterState, options: ReconcileOptions): Plan {
  const plan: Plan = { lost: [], remove: [], stop: [], create: [], place: [], pending: [] };
  const nodes = state.nodes.map((n) => {
    if (n.state === 'ready' && options.nowMs - n.lastSeenMs > options.nodeTimeoutMs) {
      plan.lost.push(n.id);
      return { ...n, state: 'lost' as const };
    }
    return n;
  });
  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  const apps = new Map(state.apps.map((a) => [a.name, a]));

  // The working set: instances as they will be once the plan is applied.
  const live = new Map<string, InstanceRecord>();
  const takeover = new Set<string>();
  for (const i of state.instances) {
    const node = i.nodeId === undefined ? undefined : nodeById.get(i.nodeId);
    if (i.nodeId !== undefined && node?.state !== 'ready') {
      plan.remove.push(i.id);
      // A node that left cleanly released its leases; a lost one may still think it holds them.
      if (node?.state === 'lost' && i.desired === 'run') takeover.add(slotKey(i.app, i.slot));
    } else if (i.nodeId === undefined && (i.desired === 'stop' || !apps.has(i.app))) {
      plan.remove.push(i.id);
    } else {
      live.set(i.id, i);
    }
  }
  const stop = (i: InstanceRecord) => {
    if (i.nodeId === undefined) {
      plan.remove.push(i.id);
      live.delete(i.id);
    } else {
      plan.stop.push(i.id);
      live.set(i.id, { ...i, desired: 'stop' });
    }
  };
  for (const i of live.values()) if (i.desired === 'run' && !apps.has(i.app)) stop(i);

  const place = (i: InstanceRecord): InstanceRecord => {
    const app = apps.get(i.app)!;
    const choice = chooseNode(app.name, i.spec, nodes, [...live.values()]);
    if ('nodeId' in choice) return { ...i, nodeId: choice.nodeId };
    plan.pending.push({ id: i.id, reason: choice.reason });
    return i;
  };
  const create = (app: AppRecord, slot: number) => {
    const fresh = place({
      id: options.newInstanceId(app.name, slot),
      app: app.name,
      slot,
      version: app.version,
      spec: app.spec,
      desired: 'run',
      takeover: takeover.has(slotKey(app.name, slot)),
    });
    plan.create.push(fresh);
    live.set(fresh.id, fresh);
  };

  for (const app of [...apps.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const mine = () => [...live.values()].filter((i) => i.app === app.name);
    for (const i of mine()) {
      if (i.desired === 'run' && i.slot >= app.spec.replicas) stop(i);
    }
    for (const i of mine()) {
      if (i.desired !== 'run' || i.nodeId !== undefined) continue;
      const placed = place(i);
      if (placed.nodeId !== undefined) {
        plan.place.push({ id: i.id, nodeId: placed.nodeId });
        live.set(i.id, placed);
      }
    }
    const oneWriter = writableVolumes(app.spec).length > 0;
    let rolling = false;
    const outdated: number[] = [];
    for (let slot = 0; slot < app.spec.replicas; slot++) {
      const inSlot = mine().filter((i) => i.slot === slot);
      const running = inSlot.filter((i) => i.desired === 'run');
      const current = running.filter((i) => i.version === app.version);
      const old = running.filter((i) => i.version !== app.version);
      const stopping = inSlot.some((i) => i.desired === 'stop');
      if (stopping) rolling = true;
      if (current.length > 0) {
        // More than one current instance only comes from a bug or a race; keep the first.
        for (const extra of current.slice(1)) stop(extra);
        if (isHealthy(current[0])) old.forEach(stop);
        else rolling = true;
      } else if (old.length > 0) {
        outdated.push(slot);
      } else if (!(oneWriter && stopping)) {
        create(app, slot);
        rolling = true;
      }
    }
    if (!rolling && outdated.length > 0) {
      const slot = outdated[0];
      if (oneWriter) mine().filter((i) => i.slot === slot && i.desired === 'run').forEach(stop);
      else create(app, slot);
    }
  }
  return plan;
}

/**
 * Instances that are done stopping: on `nodeId`, told to stop, and absent
 * from the node's latest report (`reported`: the ids it still runs).
 */
export function stoppedInstances(instances: readonly InstanceRecord[], nodeId: string, reported: ReadonlySet<string>): string[] {
  return instances.filter((i) => i.nodeId === nodeId && i.desired === 'stop' && !reported.has(i.id)).map((i) => i.id);
}
