import { describe, expect, it } from 'vitest';
import type { InstanceRecord, NodeInfo } from '../../src/scheduler/model.js';
import { chooseNode, satisfies, used } from '../../src/scheduler/placement.js';
import type { AppSpec } from '../../src/scheduler/spec.js';
import { GiB, node, spec } from './cluster-fixtures.js';

function instance(app: string, nodeId: string | undefined, s: AppSpec, n: number): InstanceRecord {
  return { id: `${app}-${n}`, app, slot: n, version: 1, spec: s, nodeId, desired: 'run', takeover: false };
}

/** Places `count` instances of `app` one after another, as the scheduler does. */
function placeMany(app: string, s: AppSpec, nodes: NodeInfo[], count: number, existing: InstanceRecord[] = []): string[] {
  const all = [...existing];
  const chosen: string[] = [];
  for (let n = 0; n < count; n++) {
    const choice = chooseNode(app, s, nodes, all);
    if (!('nodeId' in choice)) throw new Error(choice.reason);
    chosen.push(choice.nodeId);
    all.push(instance(app, choice.nodeId, s, n));
  }
  return chosen;
}

describe('chooseNode', () => {
  it('spreads replicas over zones first, then over nodes within a zone', () => {
    const nodes = [node('a1', 'za'), node('a2', 'za'), node('b1', 'zb')];
    // za, zb, then the empty node of za, then the least-loaded zone again.
    expect(placeMany('web', spec(), nodes, 4)).toEqual(['a1', 'b1', 'a2', 'b1']);
  });

  it("counts only the app's own instances for spreading, but everyone's for load", () => {
    const s = spec({ resources: { cpu: 2 } });
    const nodes = [node('a', 'z'), node('b', 'z')];
    const other = spec({ name: 'db', resources: { cpu: 3 } });
    const busy = [instance('db', 'a', other, 0)];
    expect(placeMany('web', s, nodes, 1, busy)).toEqual(['b']);
  });

  it('prefers the less loaded node when spreading does not decide, then the name', () => {
    const nodes = [node('b', 'z'), node('a', 'z'), node('c', 'z', { capacity: { cpu: 64, memoryBytes: 64 * GiB } })];
    expect(placeMany('web', spec({ resources: { cpu: 1 } }), nodes, 1)).toEqual(['c']);
    expect(placeMany('web', spec(), [node('b', 'z'), node('a', 'z')], 1)).toEqual(['a']);
  });

  it('never overfills a node: cpu and memory both count', () => {
    const nodes = [node('small', 'z', { capacity: { cpu: 1, memoryBytes: GiB } })];
    const half = spec({ resources: { cpu: 0.5, memory: '256Mi' } });
    expect(placeMany('web', half, nodes, 2)).toEqual(['small', 'small']);
    const third = chooseNode('web', half, nodes, [instance('web', 'small', half, 0), instance('web', 'small', half, 1)]);
    expect(third).toEqual({ reason: 'no node has room for 0.5 cpu and 268435456 bytes of memory' });
    const fat = spec({ resources: { cpu: 0.1, memory: '2Gi' } });
    expect(chooseNode('web', fat, nodes, [])).toMatchObject({ reason: /no node has room/ });
  });

  it('fractional cores that add up exactly still fit', () => {
    const nodes = [node('n', 'z', { capacity: { cpu: 0.3, memoryBytes: GiB } })];
    const tenth = spec({ resources: { cpu: 0.1 } });
    expect(placeMany('web', tenth, nodes, 3)).toEqual(['n', 'n', 'n']);
  });

  it('pending instances (no node yet) hold nothing', () => {
    const s = spec({ resources: { cpu: 4 } });
    const nodes = [node('n', 'z')];
    expect(chooseNode('web', s, nodes, [instance('web', undefined, s, 0)])).toEqual({ nodeId: 'n' });
    expect(used('n', [instance('web', undefined, s, 0)])).toEqual({ cpu: 0, memoryBytes: 0 });
  });

  it('honours zone and label constraints', () => {
    const nodes = [node('a', 'za', { labels: { disk: 'hdd' } }), node('b', 'zb', { labels: { disk: 'ssd' } }), node('c', 'zc')];
    expect(placeMany('web', spec({ constraints: { zones: ['zc'] } }), nodes, 2)).toEqual(['c', 'c']);
    expect(placeMany('web', spec({ constraints: { labels: { disk: 'ssd' } } }), nodes, 2)).toEqual(['b', 'b']);
    expect(chooseNode('web', spec({ constraints: { zones: ['za'], labels: { disk: 'ssd' } } }), nodes, [])).toEqual({
      reason: 'no ready node satisfies the constraints',
    });
    expect(satisfies(nodes[0], spec({ constraints: { zones: ['za'], labels: { disk: 'hdd' } } }))).toBe(true);
  });

  it('skips lost nodes, and says so when none is ready', () => {
    const nodes = [node('a', 'za', { state: 'lost' }), node('b', 'zb')];
    expect(placeMany('web', spec(), nodes, 2)).toEqual(['b', 'b']);
    expect(chooseNode('web', spec(), [node('a', 'za', { state: 'lost' })], [])).toEqual({ reason: 'no ready nodes' });
    expect(chooseNode('web', spec(), [], [])).toEqual({ reason: 'no ready nodes' });
  });
});
