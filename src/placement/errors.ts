import { CairnError } from '../errors/index.js';

/** Arguments to `place` that cannot describe a placement (bad code, bad store entry). */
export class InvalidPlacementInput extends CairnError {
  constructor(message: string) {
    super('placement.invalid-input', message);
  }
}

export interface StoreShortage {
  /** n = k + m: distinct stores a full placement takes. */
  readonly needed: number;
  readonly usable: number;
  readonly down: number;
  /** Up, but without room for one more shard. */
  readonly full: number;
  /** All stores offered, usable or not. */
  readonly total: number;
  readonly k: number;
  readonly m: number;
  readonly degradedAllowed: boolean;
  /** The fewest usable stores a degraded placement accepts; default k + 1. */
  readonly minimumDegraded?: number;
}

/**
 * Too few usable stores for the code. The counts are fields as well as text so
 * a caller can decide between waiting, adding stores and allowing a degraded
 * placement without parsing the message.
 */
export class InsufficientStoresError extends CairnError implements StoreShortage {
  readonly needed: number;
  readonly usable: number;
  readonly down: number;
  readonly full: number;
  readonly total: number;
  readonly k: number;
  readonly m: number;
  readonly degradedAllowed: boolean;
  /** The fewest stores even a degraded placement accepts: k + 1 unless the caller lowered it. */
  readonly minimumDegraded: number;

  constructor(s: StoreShortage) {
    super('placement.insufficient-stores', shortageMessage(s));
    this.needed = s.needed;
    this.usable = s.usable;
    this.down = s.down;
    this.full = s.full;
    this.total = s.total;
    this.k = s.k;
    this.m = s.m;
    this.degradedAllowed = s.degradedAllowed;
    this.minimumDegraded = s.minimumDegraded ?? s.k + 1;
  }
}

function shortageMessage(s: StoreShortage): string {
  const head =
    `need ${s.needed} distinct stores for ${s.k}+${s.m}, only ${s.usable} usable ` +
    `(${s.down} down, ${s.full} full, of ${s.total})`;
  const min = s.minimumDegraded ?? s.k + 1;
  if (s.m === 0) return `${head}; with no parity shards every store is required, so no degraded placement exists`;
  if (s.degradedAllowed) {
    return min === s.k + 1
      ? `${head}; even a degraded placement needs at least k+1 = ${min} usable stores ` +
          `(k to read the stripe back, one more so a single loss is not fatal)`
      : `${head}; even a degraded placement needs at least ${min} usable stores`;
  }
  const hint =
    s.usable >= min
      ? `; add or bring back stores, or allow a degraded placement (possible with ${s.usable} >= k+1 = ${min})`
      : `; add or bring back stores (a degraded placement would still need k+1 = ${min})`;
  return head + hint;
}
