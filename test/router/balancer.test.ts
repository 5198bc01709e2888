import { describe, expect, it } from 'vitest';
import { type Closable, Pool } from '../../src/router/balancer.js';
import type { Balance, RouteInstance } from '../../src/router/types.js';

const inst = (id: string, port: number, healthy = true): RouteInstance => ({ id, host: '127.0.0.1', port, healthy });
const conn = (): Closable => ({ destroy() {} });

function pool(balance: Balance, instances: RouteInstance[], clock = { t: 0 }) {
  return new Pool({ balance, instances } as never, { after: 2, baseMs: 1_000, maxMs: 8_000 }, () => clock.t);
}

describe('balancer pool', () => {
  it('round robin takes each instance in turn', () => {
    const p = pool('round-robin', [inst('a', 1), inst('b', 2), inst('c', 3)]);
    expect(Array.from({ length: 7 }, () => p.pick()!.id)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('least connections takes the instance with the fewest open', () => {
    const p = pool('least-connections', [inst('a', 1), inst('b', 2), inst('c', 3)]);
    const [a, b] = p.instances;
    p.open(a, conn());
    p.open(a, conn());
    p.open(b, conn());
    expect(p.pick()!.id).toBe('c');
    p.open(p.instances[2], conn());
    expect(p.pick()!.id).toBe('b');
  });

  it('least connections spreads ties in turn', () => {
    const p = pool('least-connections', [inst('a', 1), inst('b', 2)]);
    expect([p.pick()!.id, p.pick()!.id, p.pick()!.id]).toEqual(['a', 'b', 'a']);
  });

  it('skips instances the control plane or the health checks call unhealthy', () => {
    const p = pool('round-robin', [inst('a', 1, false), inst('b', 2), inst('c', 3)]);
    p.instances[2].checkHealthy = false;
    expect([p.pick()!.id, p.pick()!.id]).toEqual(['b', 'b']);
    p.instances[1].checkHealthy = false;
    expect(p.pick()).toBeUndefined();
  });

  it('skips instances already tried for this connection', () => {
    const p = pool('round-robin', [inst('a', 1), inst('b', 2)]);
    const a = p.pick()!;
    expect(p.pick(new Set([a, p.instances[1]]))).toBeUndefined();
    expect(p.pick(new Set([a]))!.id).toBe('b');
  });

  it('ejects an instance after consecutive failures, for longer each time, then takes it back', () => {
    const clock = { t: 0 };
    const p = pool('round-robin', [inst('a', 1), inst('b', 2)], clock);
    const a = p.instances[0];
    p.failed(a);
    expect(p.eligible(a)).toBe(true);
    p.failed(a);
    expect(p.eligible(a)).toBe(false);
    expect([p.pick()!.id, p.pick()!.id]).toEqual(['b', 'b']);
    clock.t = 1_000;
    expect(p.eligible(a)).toBe(true);
    p.failed(a);
    p.failed(a);
    clock.t = 2_999;
    expect(p.eligible(a)).toBe(false); // second ejection lasts 2 s
    clock.t = 3_000;
    expect(p.eligible(a)).toBe(true);
    p.succeeded(a);
    p.failed(a);
    p.failed(a);
    clock.t = 3_999;
    expect(p.eligible(a)).toBe(false); // a success resets the backoff: 1 s again
    clock.t = 4_000;
    expect(p.eligible(a)).toBe(true);
  });

  it('a success between failures resets the count', () => {
    const p = pool('round-robin', [inst('a', 1)]);
    const a = p.instances[0];
    p.failed(a);
    p.succeeded(a);
    p.failed(a);
    expect(p.eligible(a)).toBe(true);
  });

  it('an update keeps the connections of instances still listed and drains the others', () => {
    const p = pool('least-connections', [inst('a', 1), inst('b', 2)]);
    const [a, b] = p.instances;
    const ca = conn();
    const cb = conn();
    p.open(a, ca);
    p.open(b, cb);
    const gone = p.update({ balance: 'least-connections', instances: [inst('a', 1), inst('c', 3)] });
    expect(gone).toEqual([b]);
    expect(p.instances[0]).toBe(a);
    expect(a.active).toBe(1);
    expect(b.draining).toBe(true);
    expect(p.draining).toEqual([b]);
    expect(p.pick()!.id).toBe('c');
    p.close(b, cb);
    expect(p.draining).toEqual([]);
  });

  it('an instance that moves to a new address is a new instance; the old address drains', () => {
    const p = pool('round-robin', [inst('a', 1)]);
    const old = p.instances[0];
    p.open(old, conn());
    const gone = p.update({ balance: 'round-robin', instances: [inst('a', 9)] });
    expect(gone).toEqual([old]);
    expect(p.instances[0].port).toBe(9);
    expect(p.instances[0]).not.toBe(old);
  });

  it('an instance back in the table before its drain ends takes connections again', () => {
    const p = pool('round-robin', [inst('a', 1), inst('b', 2)]);
    const b = p.instances[1];
    p.open(b, conn());
    p.update({ balance: 'round-robin', instances: [inst('a', 1)] });
    expect(b.draining).toBe(true);
    p.update({ balance: 'round-robin', instances: [inst('a', 1), inst('b', 2)] });
    expect(p.instances[1]).toBe(b);
    expect(b.draining).toBe(false);
    expect(p.draining).toEqual([]);
  });

  it('retiring drains every instance', () => {
    const p = pool('round-robin', [inst('a', 1), inst('b', 2)]);
    p.open(p.instances[0], conn());
    const gone = p.retire();
    expect(gone.map((i) => i.id)).toEqual(['a', 'b']);
    expect(p.pick()).toBeUndefined();
    expect(p.draining.map((i) => i.id)).toEqual(['a']);
  });
});
