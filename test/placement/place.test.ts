import { describe, expect, it } from 'vitest';
import { CairnError } from '../../src/errors/index.js';
import {
  InsufficientStoresError,
  InvalidPlacementInput,
  place,
  type Placement,
  type StoreInfo,
} from '../../src/placement/index.js';
import { rng, TEST_SEED } from '../helpers/random.js';

const MiB = 1 << 20;
const TB = 1e12;
const RS42 = { k: 4, m: 2 };
const opts = { shardSize: MiB };

function store(id: string, zone: string, extra: Partial<StoreInfo> = {}): StoreInfo {
  return { id, zone, capacity: TB, used: 0, up: true, ...extra };
}

/** `perZone[z]` stores in zone `z<z>`, ids unique across zones. */
function fleet(perZone: number[]): StoreInfo[] {
  return perZone.flatMap((count, z) => Array.from({ length: count }, (_, i) => store(`s${z}-${i}`, `z${z}`)));
}

/** n stores spread round-robin over `zones` zones. */
function roundRobin(n: number, zones: number): StoreInfo[] {
  return Array.from({ length: n }, (_, i) => store(`store-${i}`, `z${i % zones}`));
}

const keys = (count: number) => Array.from({ length: count }, (_, i) => `stripe-${i}`);

function zoneCounts(p: Placement, stores: readonly StoreInfo[]): Map<string, number> {
  const zoneOf = new Map(stores.map((s) => [s.id, s.zone]));
  const counts = new Map<string, number>();
  for (const id of p.stores) {
    if (id === null) continue;
    const z = zoneOf.get(id)!;
    counts.set(z, (counts.get(z) ?? 0) + 1);
  }
  return counts;
}

function expectDistinct(p: Placement): void {
  const ids = p.stores.filter((s) => s !== null);
  expect(new Set(ids).size).toBe(ids.length);
}

function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function report(line: string): void {
  process.stdout.write(`placement: ${line}\n`);
}

describe('zone spread', () => {
  it('3 zones x 4 stores, RS(4,2): exactly 2 shards per zone, all distinct', () => {
    const stores = fleet([4, 4, 4]);
    for (const key of keys(1000)) {
      const p = place(key, stores, RS42, opts);
      expect(p.degraded).toBe(false);
      expect(p.stores).toHaveLength(6);
      expectDistinct(p);
      expect([...zoneCounts(p, stores).values()]).toEqual([2, 2, 2]);
    }
  });

  it('4 zones, one with a single store: at most ceil(6/4) = 2 per zone', () => {
    const stores = fleet([4, 4, 4, 1]);
    let smallZoneUsed = 0;
    for (const key of keys(1000)) {
      const p = place(key, stores, RS42, opts);
      expectDistinct(p);
      const counts = zoneCounts(p, stores);
      expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
      smallZoneUsed += counts.get('z3') ?? 0;
    }
    // Ceil is reachable without the small zone too (2+2+2), so it is used
    // only when it wins on score, but it must not be shut out.
    expect(smallZoneUsed).toBeGreaterThan(0);
  });

  it('when a zone is too small, the others take more: sizes [1, 1, 10] give 1, 1, 4', () => {
    const stores = fleet([1, 1, 10]);
    for (const key of keys(300)) {
      const p = place(key, stores, RS42, opts);
      expectDistinct(p);
      const counts = zoneCounts(p, stores);
      expect(counts.get('z0')).toBe(1);
      expect(counts.get('z1')).toBe(1);
      expect(counts.get('z2')).toBe(4);
    }
  });

  it('a single zone still gets n distinct stores', () => {
    const stores = fleet([8]);
    for (const key of keys(200)) {
      const p = place(key, stores, { k: 6, m: 2 }, opts);
      expect(p.stores.every((s) => s !== null)).toBe(true);
      expectDistinct(p);
    }
  });

  it('100 stores over 5 zones, RS(10,4): at most ceil(14/5) = 3 per zone', () => {
    const stores = roundRobin(100, 5);
    for (const key of keys(500)) {
      const p = place(key, stores, { k: 10, m: 4 }, opts);
      expectDistinct(p);
      expect(Math.max(...zoneCounts(p, stores).values())).toBeLessThanOrEqual(3);
    }
  });

  it('every store gets a share, and every shard index is spread over the stores', () => {
    const stores = roundRobin(20, 4);
    const perStore = new Map<string, number>();
    const perIndex = Array.from({ length: 6 }, () => new Set<string>());
    const stripes = 6000;
    for (const key of keys(stripes)) {
      place(key, stores, RS42, opts).stores.forEach((id, i) => {
        perStore.set(id!, (perStore.get(id!) ?? 0) + 1);
        perIndex[i].add(id!);
      });
    }
    const expected = (stripes * 6) / 20;
    for (const s of stores) {
      expect(perStore.get(s.id)! / expected).toBeGreaterThan(0.85);
      expect(perStore.get(s.id)! / expected).toBeLessThan(1.15);
    }
    for (const used of perIndex) expect(used.size).toBe(20);
  });
});

describe('stability under membership change (100 stores, 5 zones, 10,000 stripes of 4+2)', () => {
  const stores = roundRobin(100, 5);
  const stripeKeys = keys(10_000);
  const placeAll = (fleetNow: readonly StoreInfo[]) => stripeKeys.map((key) => place(key, fleetNow, RS42, opts).stores);
  let cached: (string | null)[][] | undefined;
  const baseline = () => (cached ??= placeAll(stores));
  const slots = stripeKeys.length * 6;

  /** Slots that changed store, and slots held by `touched` before or after (which had to change). */
  function compare(a: (string | null)[][], b: (string | null)[][], touched: string) {
    let moved = 0;
    let direct = 0;
    for (let s = 0; s < a.length; s++) {
      for (let i = 0; i < 6; i++) {
        if (a[s][i] !== b[s][i]) moved++;
        if (a[s][i] === touched || b[s][i] === touched) direct++;
      }
    }
    return { moved, direct };
  }

  /** Slots before the first one involving `touched` must not change: earlier choices never saw it win. */
  function expectPrefixUnchanged(a: (string | null)[][], b: (string | null)[][], touched: string) {
    for (let s = 0; s < a.length; s++) {
      const first = Math.min(
        ...[a[s].indexOf(touched), b[s].indexOf(touched)].map((i) => (i < 0 ? 6 : i)),
      );
      expect(b[s].slice(0, first)).toEqual(a[s].slice(0, first));
    }
  }

  it('adding one store moves about 1/N of the slots', () => {
    const before = baseline();
    const added = 'store-new';
    const after = placeAll([...stores, store(added, 'z2')]);
    const { moved, direct } = compare(before, after, added);
    const fraction = moved / slots;
    report(
      `add 1 store to 100: ${(fraction * 100).toFixed(3)}% of slots moved ` +
        `(${((direct / slots) * 100).toFixed(3)}% to the new store, ideal 1/101 = ${(100 / 101).toFixed(3)}%)`,
    );
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(0.03);
    // Every slot the new store took moved; anything else is the cascade,
    // which must be the smaller part.
    expect(moved).toBeGreaterThanOrEqual(direct);
    expect(moved - direct).toBeLessThan(direct);
    expectPrefixUnchanged(before, after, added);
  });

  it('removing one store moves its slots plus a small cascade', () => {
    const before = baseline();
    const removed = 'store-37';
    const after = placeAll(stores.filter((s) => s.id !== removed));
    const { moved, direct } = compare(before, after, removed);
    const fraction = moved / slots;
    report(
      `remove 1 store of 100: ${(fraction * 100).toFixed(3)}% of slots moved ` +
        `(${((direct / slots) * 100).toFixed(3)}% were on the removed store)`,
    );
    expect(direct).toBeGreaterThan(0);
    expect(after.flat()).not.toContain(removed);
    expect(moved).toBeGreaterThanOrEqual(direct);
    expect(fraction).toBeLessThan(0.03);
    expectPrefixUnchanged(before, after, removed);
  });

  it('a store going down behaves like a removal, and coming back up restores every slot', () => {
    const downId = 'store-58';
    const down = stores.map((s) => (s.id === downId ? { ...s, up: false } : s));
    const whileDown = placeAll(down);
    const removed = placeAll(stores.filter((s) => s.id !== downId));
    expect(whileDown).toEqual(removed);
    expect(placeAll(stores)).toEqual(baseline());
  });
});

describe('capacity weighting', () => {
  function shares(stores: readonly StoreInfo[], stripes: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const key of keys(stripes)) {
      for (const id of place(key, stores, RS42, opts).stores) counts.set(id!, (counts.get(id!) ?? 0) + 1);
    }
    return counts;
  }

  const meanShare = (counts: Map<string, number>, ids: readonly StoreInfo[]) =>
    ids.reduce((sum, s) => sum + (counts.get(s.id) ?? 0), 0) / ids.length;

  it('stores with twice the capacity get about twice the shards', () => {
    // Same mix in every zone, so the zone rule does not skew the result.
    const stores = roundRobin(60, 3).map((s, i) => ({ ...s, capacity: Math.floor(i / 3) % 2 === 0 ? 2 * TB : TB }));
    const counts = shares(stores, 20_000);
    const ratio =
      meanShare(counts, stores.filter((s) => s.capacity === 2 * TB)) /
      meanShare(counts, stores.filter((s) => s.capacity === TB));
    report(`2x capacity -> ${ratio.toFixed(3)}x shards (60 stores, 3 zones, 20,000 stripes)`);
    expect(ratio).toBeGreaterThan(2 * 0.85);
    expect(ratio).toBeLessThan(2 * 1.15);
  });

  it('weighs by total capacity, not free space, so writes do not reshuffle placements', () => {
    const stores = roundRobin(30, 3);
    const busy = stores.map((s, i) => ({ ...s, used: (i % 7) * 1e11 }));
    for (const key of keys(500)) expect(place(key, busy, RS42, opts)).toEqual(place(key, stores, RS42, opts));
  });

  it('a store of unknown capacity weighs as the median known capacity', () => {
    const stores = roundRobin(60, 3).map((s, i) => ({ ...s, capacity: Math.floor(i / 3) % 2 === 0 ? null : TB }));
    const counts = shares(stores, 10_000);
    const ratio =
      meanShare(counts, stores.filter((s) => s.capacity === null)) /
      meanShare(counts, stores.filter((s) => s.capacity === TB));
    expect(ratio).toBeGreaterThan(0.85);
    expect(ratio).toBeLessThan(1.15);
  });

  it('all capacities unknown: still an even spread', () => {
    const stores = roundRobin(12, 3).map((s) => ({ ...s, capacity: null }));
    const counts = shares(stores, 6000);
    for (const s of stores) {
      expect(counts.get(s.id)! / 3000).toBeGreaterThan(0.85);
      expect(counts.get(s.id)! / 3000).toBeLessThan(1.15);
    }
  });
});

describe('usable stores, determinism', () => {
  it('never chooses a store that is down or full', () => {
    const stores = roundRobin(24, 4).map((s, i) => {
      if (i % 6 === 1) return { ...s, up: false };
      if (i % 6 === 3) return { ...s, capacity: 10 * MiB, used: 10 * MiB - MiB + 1 };
      return s;
    });
    const excluded = new Set(stores.filter((s, i) => i % 6 === 1 || i % 6 === 3).map((s) => s.id));
    for (const key of keys(1000)) {
      for (const id of place(key, stores, RS42, opts).stores) expect(excluded.has(id!)).toBe(false);
    }
  });

  it('a store with exactly one shard of room is usable; one byte less is full', () => {
    // Five other stores, so a 4+2 stripe needs the edge store.
    const base = fleet([3, 2]);
    const exact = [...base, store('edge', 'z2', { capacity: 5 * MiB, used: 4 * MiB })];
    const short = [...base, store('edge', 'z2', { capacity: 5 * MiB, used: 4 * MiB + 1 })];
    const unbounded = [...base, store('edge', 'z2', { capacity: null, used: 1e18 })];
    expect(place('k', exact, RS42, opts).stores).toContain('edge');
    expect(() => place('k', short, RS42, opts)).toThrow('only 5 usable (0 down, 1 full, of 6)');
    // Unknown capacity is never full, however much is used.
    expect(place('k', unbounded, RS42, opts).stores).toContain('edge');
  });

  it(`gives the same answer for any order of the store list (seed ${TEST_SEED})`, () => {
    const next = rng(TEST_SEED);
    const stores = roundRobin(40, 4).map((s, i) => ({ ...s, capacity: i % 5 === 0 ? null : TB * (1 + (i % 3)) }));
    for (const key of keys(200)) {
      const expected = place(key, stores, RS42, opts);
      expect(place(key, stores, RS42, opts)).toEqual(expected);
      expect(place(key, shuffled(stores, next), RS42, opts)).toEqual(expected);
    }
  });

  it('different keys give different placements', () => {
    const stores = roundRobin(50, 5);
    const distinct = new Set(keys(200).map((key) => place(key, stores, RS42, opts).stores.join(',')));
    expect(distinct.size).toBeGreaterThan(190);
  });

  it('handles the largest code, 256 shards over 256 stores', () => {
    const stores = roundRobin(256, 8);
    const p = place('big', stores, { k: 200, m: 56 }, opts);
    expectDistinct(p);
    expect(p.stores).toHaveLength(256);
    expect(Math.max(...zoneCounts(p, stores).values())).toBe(32);
  });
});

describe('too few usable stores: refuse or degrade', () => {
  /** 6 stores in 3 zones with `down` down and `full` full (taken from the end). */
  function six(down: number, full: number): StoreInfo[] {
    return fleet([2, 2, 2]).map((s, i) => {
      if (i >= 6 - down) return { ...s, up: false };
      if (i >= 6 - down - full) return { ...s, capacity: MiB, used: 1 };
      return s;
    });
  }

  it('5 usable for 4+2 without allowDegraded: InsufficientStoresError with the counts', () => {
    const stores = six(1, 0);
    let error: unknown;
    try {
      place('k', stores, RS42, opts);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InsufficientStoresError);
    expect(error).toBeInstanceOf(CairnError);
    const e = error as InsufficientStoresError;
    expect(e.code).toBe('placement.insufficient-stores');
    expect(e).toMatchObject({ needed: 6, usable: 5, down: 1, full: 0, total: 6, degradedAllowed: false });
    expect(e.message).toContain('need 6 distinct stores for 4+2, only 5 usable (1 down, 0 full, of 6)');
    expect(e.message).toContain('allow a degraded placement');
  });

  it('counts down and full stores separately', () => {
    expect(() => place('k', six(2, 1), RS42, opts)).toThrow(
      'need 6 distinct stores for 4+2, only 3 usable (2 down, 1 full, of 6)',
    );
  });

  it('5 usable for 4+2 with allowDegraded: the last slot is null and the placement says degraded', () => {
    const stores = six(1, 0);
    const usable = new Set(stores.filter((s) => s.up).map((s) => s.id));
    for (const key of keys(100)) {
      const p = place(key, stores, RS42, { ...opts, allowDegraded: true });
      expect(p.degraded).toBe(true);
      expect(p.stores).toHaveLength(6);
      expect(p.stores[5]).toBeNull();
      expect(new Set(p.stores.slice(0, 5))).toEqual(usable);
    }
  });

  it('with two stores short, the two highest slots are null', () => {
    const stores = fleet([2, 2, 1]);
    for (const key of keys(100)) {
      const p = place(key, stores, { k: 4, m: 3 }, { ...opts, allowDegraded: true });
      expect(p.degraded).toBe(true);
      expect(p.stores.slice(5)).toEqual([null, null]);
      expect(new Set(p.stores.slice(0, 5))).toEqual(new Set(stores.map((s) => s.id)));
    }
  });

  it('a full placement with allowDegraded is not degraded', () => {
    const p = place('k', fleet([2, 2, 2]), RS42, { ...opts, allowDegraded: true });
    expect(p.degraded).toBe(false);
    expect(p.stores.every((s) => s !== null)).toBe(true);
  });

  it('4 usable (= k) with allowDegraded: refused, the message says k+1 are needed', () => {
    let error: unknown;
    try {
      place('k', six(1, 1), RS42, { ...opts, allowDegraded: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InsufficientStoresError);
    const e = error as InsufficientStoresError;
    expect(e).toMatchObject({ needed: 6, usable: 4, down: 1, full: 1, degradedAllowed: true, minimumDegraded: 5 });
    expect(e.message).toContain('only 4 usable (1 down, 1 full, of 6)');
    expect(e.message).toContain('at least k+1 = 5');
  });

  it('one bucket, 1+0: its one store; three buckets, 2+1: one per bucket, and with one down k = 2 when the caller allows it', () => {
    const bucket = (id: string, up = true) => store(id, id, { capacity: null, up });
    expect(place('k', [bucket('b1')], { k: 1, m: 0 }, opts).stores).toEqual(['b1']);
    const three = [bucket('b1'), bucket('b2'), bucket('b3')];
    for (const key of keys(50)) expect(new Set(place(key, three, { k: 2, m: 1 }, opts).stores).size).toBe(3);
    const oneDown = [bucket('b1'), bucket('b2', false), bucket('b3')];
    expect(() => place('k', oneDown, { k: 2, m: 1 }, { ...opts, allowDegraded: true })).toThrow(/at least k\+1 = 3/);
    const p = place('k', oneDown, { k: 2, m: 1 }, { ...opts, allowDegraded: true, minimumDegraded: 2 });
    expect(p).toMatchObject({ degraded: true });
    expect([...p.stores.slice(0, 2)].sort()).toEqual(['b1', 'b3']);
    expect(p.stores[2]).toBeNull();
    const twoDown = [bucket('b1'), bucket('b2', false), bucket('b3', false)];
    expect(() => place('k', twoDown, { k: 2, m: 1 }, { ...opts, allowDegraded: true, minimumDegraded: 2 })).toThrow(
      /only 1 usable.*needs at least 2 usable stores/,
    );
    for (const bad of [1, 4, 2.5]) {
      expect(() => place('k', three, { k: 2, m: 1 }, { ...opts, minimumDegraded: bad })).toThrow(/minimumDegraded must be an integer from k = 2 to n = 3/);
    }
  });

  it('a code without parity cannot be degraded', () => {
    const stores = fleet([2, 1]);
    expect(() => place('k', stores, { k: 4, m: 0 }, { ...opts, allowDegraded: true })).toThrow(
      /only 3 usable.*no degraded placement/,
    );
  });

  it('no stores at all', () => {
    expect(() => place('k', [], RS42, opts)).toThrow('need 6 distinct stores for 4+2, only 0 usable (0 down, 0 full, of 0)');
  });
});

describe('invalid input', () => {
  const stores = fleet([2, 2, 2]);
  const cases: [string, () => unknown, RegExp][] = [
    ['k = 0', () => place('k', stores, { k: 0, m: 2 }, opts), /k must be an integer >= 1, got 0/],
    ['k not an integer', () => place('k', stores, { k: 1.5, m: 2 }, opts), /k must be an integer >= 1, got 1.5/],
    ['m < 0', () => place('k', stores, { k: 4, m: -1 }, opts), /m must be an integer >= 0, got -1/],
    ['n > 256', () => place('k', stores, { k: 200, m: 57 }, opts), /k\+m must be at most 256, got 200\+57 = 257/],
    ['shardSize 0', () => place('k', stores, RS42, { shardSize: 0 }), /shardSize must be a positive number of bytes, got 0/],
    ['shardSize NaN', () => place('k', stores, RS42, { shardSize: NaN }), /shardSize .* got NaN/],
    [
      'duplicate store id',
      () => place('k', [...stores, store('s1-0', 'z9')], RS42, opts),
      /duplicate store id "s1-0"/,
    ],
    ['empty store id', () => place('k', [...stores, store('', 'z1')], RS42, opts), /store at position 6 has no id/],
    [
      'negative capacity',
      () => place('k', [...stores, store('x', 'z1', { capacity: -1 })], RS42, opts),
      /store "x": capacity must be null or a finite number >= 0, got -1/,
    ],
    [
      'used NaN',
      () => place('k', [...stores, store('x', 'z1', { used: NaN })], RS42, opts),
      /store "x": used must be a finite number >= 0, got NaN/,
    ],
  ];
  for (const [name, run, message] of cases) {
    it(name, () => {
      expect(run).toThrow(InvalidPlacementInput);
      expect(run).toThrow(message);
      try {
        run();
      } catch (e) {
        expect((e as CairnError).code).toBe('placement.invalid-input');
      }
    });
  }

  it('checks input before counting stores', () => {
    // A bad code must be reported as such, not as too few stores.
    expect(() => place('k', [], { k: 0, m: 0 }, opts)).toThrow(InvalidPlacementInput);
  });
});
