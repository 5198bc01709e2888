import { describe, expect, it } from 'vitest';
import type { AppRecord, InstanceRecord, NodeInfo } from '../../src/scheduler/model.js';
import { type Plan, emptyPlan, reconcile, stoppedInstances } from '../../src/scheduler/reconcile.js';
import type { AppSpec } from '../../src/scheduler/spec.js';
import { node, spec } from './cluster-fixtures.js';

const TIMEOUT = 5000;

/** A cluster's state, with the plan of each scheduling pass applied to it as the control plane does. */
class Cluster {
  apps = new Map<string, AppRecord>();
  nodes = new Map<string, NodeInfo>();
  instances = new Map<string, InstanceRecord>();
  #n = 0;
  now = 100_000;

  constructor(nodes: NodeInfo[]) {
    for (const n of nodes) this.nodes.set(n.id, { ...n, lastSeenMs: this.now });
  }

  deploy(s: AppSpec): void {
    const old = this.apps.get(s.name);
    this.apps.set(s.name, { name: s.name, id: 'abc123', version: (old?.version ?? 0) + 1, spec: s });
  }

  step(): Plan {
    const plan = reconcile(
      { apps: [...this.apps.values()], nodes: [...this.nodes.values()], instances: [...this.instances.values()] },
      { nowMs: this.now, nodeTimeoutMs: TIMEOUT, newInstanceId: (app, slot) => `${app}-${slot}-${++this.#n}` },
    );
    for (const id of plan.lost) this.nodes.get(id)!.state = 'lost';
    for (const id of plan.remove) this.instances.delete(id);
    for (const id of plan.stop) this.instances.get(id)!.desired = 'stop';
    for (const i of plan.create) this.instances.set(i.id, { ...i });
    for (const p of plan.place) this.instances.get(p.id)!.nodeId = p.nodeId;
    return plan;
  }

  /** Every node reports in: instances become running (healthy unless listed), stopped ones disappear. */
  report(unhealthy: string[] = []): void {
    for (const n of this.nodes.values()) {
      if (n.state !== 'ready') continue;
      n.lastSeenMs = this.now;
      const mine = [...this.instances.values()].filter((i) => i.nodeId === n.id);
      const running = mine.filter((i) => i.desired === 'run');
      for (const i of running) {
        i.status = { state: 'running', healthy: !unhealthy.includes(i.id), ports: {}, restarts: 0, volumes: [] };
      }
      for (const id of stoppedInstances(mine, n.id, new Set(running.map((i) => i.id)))) this.instances.delete(id);
    }
  }

  /** Steps and reports until nothing changes. */
  settle(unhealthy: string[] = []): void {
    for (let i = 0; i < 50; i++) {
      const plan = this.step();
      this.report(unhealthy);
      if (emptyPlan(plan) && [...this.instances.values()].every((x) => x.desired === 'run')) return;
    }
    throw new Error('the cluster did not settle');
  }

  live(app = 'web'): InstanceRecord[] {
    return [...this.instances.values()].filter((i) => i.app === app && i.desired === 'run').sort((a, b) => a.slot - b.slot);
  }
}

describe('reconcile', () => {
  it('gives every replica slot an instance, spread over nodes', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2'), node('c', 'z3')]);
    c.deploy(spec({ replicas: 3 }));
    const plan = c.step();
    expect(plan.create.map((i) => [i.id, i.slot, i.nodeId, i.version, i.takeover])).toEqual([
      ['web-0-1', 0, 'a', 1, false],
      ['web-1-2', 1, 'b', 1, false],
      ['web-2-3', 2, 'c', 1, false],
    ]);
    c.report();
    expect(emptyPlan(c.step())).toBe(true);
  });

  it('a node silent past the timeout is lost; its instances move, read-write volumes with a takeover', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2')]);
    c.deploy(spec({ name: 'db', volumes: [{ name: 'pg', path: '/data' }] }));
    c.deploy(spec({ name: 'web', replicas: 2 }));
    c.settle();
    const dbNode = c.live('db')[0].nodeId!;
    const other = dbNode === 'a' ? 'b' : 'a';
    // Only the other node keeps reporting.
    c.now += TIMEOUT;
    c.nodes.get(other)!.lastSeenMs = c.now;
    expect(emptyPlan(c.step())).toBe(true); // exactly at the timeout: not yet
    c.now += 1;
    c.nodes.get(other)!.lastSeenMs = c.now;
    const plan = c.step();
    expect(plan.lost).toEqual([dbNode]);
    const moved = plan.create.map((i) => ({ app: i.app, node: i.nodeId, takeover: i.takeover }));
    expect(moved).toContainEqual({ app: 'db', node: other, takeover: true });
    // An app without volumes moves too; the takeover flag only matters for volumes but marks the loss.
    expect(moved.filter((m) => m.app === 'web')).toEqual([{ app: 'web', node: other, takeover: true }]);
    expect(plan.remove).toHaveLength(2);
    expect(c.live('db').map((i) => i.nodeId)).toEqual([other]);
  });

  it('a node that left cleanly frees its instances without a takeover (its leases were released)', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2')]);
    c.deploy(spec({ name: 'db', volumes: [{ name: 'pg', path: '/data' }] }));
    c.settle();
    const was = c.live('db')[0].nodeId!;
    c.nodes.delete(was);
    const plan = c.step();
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0]).toMatchObject({ app: 'db', takeover: false });
    expect(plan.create[0].nodeId).not.toBe(was);
  });

  it('a lost node that comes back gets nothing back; its old instances are gone from the plan', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z1')]);
    c.deploy(spec({ replicas: 1 }));
    c.settle();
    const first = c.live()[0];
    c.now += TIMEOUT + 1;
    for (const n of c.nodes.values()) if (n.id !== first.nodeId) n.lastSeenMs = c.now;
    c.step();
    const back = c.nodes.get(first.nodeId!)!;
    back.state = 'ready';
    back.lastSeenMs = c.now;
    c.settle();
    expect(c.live().map((i) => i.id)).not.toContain(first.id);
    expect(c.live()).toHaveLength(1);
  });

  it('leaves instances pending while no node has room, and places them when one comes', () => {
    const c = new Cluster([node('a', 'z1', { capacity: { cpu: 1, memoryBytes: 2 ** 30 } })]);
    c.deploy(spec({ replicas: 3, resources: { cpu: 0.5 } }));
    const plan = c.step();
    expect(plan.create.map((i) => i.nodeId)).toEqual(['a', 'a', undefined]);
    expect(plan.pending).toEqual([{ id: 'web-2-3', reason: 'no node has room for 0.5 cpu and 67108864 bytes of memory' }]);
    c.nodes.set('b', node('b', 'z2', { lastSeenMs: c.now }));
    const next = c.step();
    expect(next.place).toEqual([{ id: 'web-2-3', nodeId: 'b' }]);
    expect(next.create).toEqual([]);
  });

  it('scales down by stopping the highest slots; removing an app stops everything', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2')]);
    c.deploy(spec({ replicas: 3 }));
    c.settle();
    c.apps.get('web')!.spec = spec({ replicas: 1 });
    const plan = c.step();
    expect(plan.stop.sort()).toEqual(['web-1-2', 'web-2-3']);
    c.settle();
    expect(c.live().map((i) => i.slot)).toEqual([0]);
    c.apps.delete('web');
    expect(c.step().stop).toEqual(['web-0-1']);
    c.report();
    expect(c.instances.size).toBe(0);
  });

  it('rolls a new version one replica at a time, starting the new before stopping the old', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2')]);
    c.deploy(spec({ replicas: 3, env: { V: '1' } }));
    c.settle();
    c.deploy(spec({ replicas: 3, env: { V: '2' } }));
    const history: string[] = [];
    for (let i = 0; i < 20; i++) {
      const plan = c.step();
      const pass = [...plan.create.map((x) => `start ${x.slot}`), ...plan.stop.map((id) => `stop ${c.instances.get(id)!.slot}`)];
      if (pass.length > 0) history.push(pass.join(', '));
      // Newly created instances report in unhealthy first, healthy one pass later.
      c.report(plan.create.map((x) => x.id));
      const unhealthy = [...c.instances.values()].filter((x) => x.version === 2 && x.desired === 'run' && x.status?.healthy === false);
      const running = [...c.instances.values()].filter((x) => x.desired === 'run');
      expect(unhealthy.length).toBeLessThanOrEqual(1);
      expect(running.filter((x) => x.status?.healthy).length).toBeGreaterThanOrEqual(2);
    }
    // A slot's old instance stops in the pass that finds its replacement healthy, which also starts the next slot.
    expect(history).toEqual(['start 0', 'start 1, stop 0', 'start 2, stop 1', 'stop 2']);
    expect(c.live().map((i) => i.version)).toEqual([2, 2, 2]);
  });

  it('a new version that never gets healthy stalls the rollout and keeps the old instances', () => {
    const c = new Cluster([node('a', 'z1')]);
    c.deploy(spec({ replicas: 2, env: { V: '1' } }));
    c.settle();
    c.deploy(spec({ replicas: 2, env: { V: '2' } }));
    for (let i = 0; i < 5; i++) {
      const plan = c.step();
      c.report([...c.instances.values()].filter((x) => x.version === 2).map((x) => x.id));
      if (i > 0) expect(emptyPlan(plan)).toBe(true);
    }
    expect(c.live().map((i) => `${i.slot}:v${i.version}`).sort()).toEqual(['0:v1', '0:v2', '1:v1']);
  });

  it('with a read-write volume the old instance stops first; the new one starts once it is gone', () => {
    const c = new Cluster([node('a', 'z1'), node('b', 'z2')]);
    const v = (n: string) => spec({ name: 'db', env: { V: n }, volumes: [{ name: 'pg', path: '/data' }] });
    c.deploy(v('1'));
    c.settle();
    const old = c.live('db')[0];
    c.deploy(v('2'));
    expect(c.step()).toMatchObject({ stop: [old.id], create: [] });
    // Still stopping (its node reports it): nothing new may mount the volume.
    old.status = { ...old.status!, state: 'stopping' };
    expect(emptyPlan(c.step())).toBe(true);
    // Its node no longer reports it: gone.
    expect(stoppedInstances([...c.instances.values()], old.nodeId!, new Set())).toEqual([old.id]);
    c.instances.delete(old.id);
    const plan = c.step();
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0]).toMatchObject({ app: 'db', version: 2, takeover: false });
  });

  it('stoppedInstances only names instances told to stop on that node and not reported', () => {
    const s = spec();
    const inst = (id: string, nodeId: string, desired: 'run' | 'stop'): InstanceRecord => ({
      id,
      app: 'web',
      slot: 0,
      version: 1,
      spec: s,
      nodeId,
      desired,
      takeover: false,
    });
    const all = [inst('x', 'a', 'stop'), inst('y', 'a', 'stop'), inst('z', 'a', 'run'), inst('w', 'b', 'stop')];
    expect(stoppedInstances(all, 'a', new Set(['y']))).toEqual(['x']);
  });
});
