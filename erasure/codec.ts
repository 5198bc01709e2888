import { InvalidCodeError, ShardCountError, ShardLengthError, TooFewShardsError } from './errors.js';
import { invert, type Matrix, multiply, nibbleTables, pickRows, vandermonde } from './gf256.js';
import { mulRows } from './kernel.js';

/** The largest number of shards GF(2^8) allows: one Vandermonde row per field element. */
export const MAX_SHARDS = 256;

/** How many erasure patterns a codec remembers decode tables for. */
const DECODE_CACHE_SIZE = 64;

interface DecodePlan {
  /** The first k present shards, whose rows were inverted. */
  readonly sources: readonly number[];
  /** Missing data shard indices, and their rows of the inverse as kernel tables. */
  readonly lostData: readonly number[];
  readonly lostDataTables: Uint8Array;
  /** Missing parity shard indices, and their encoding rows as kernel tables. */
  readonly lostParity: readonly number[];
  readonly lostParityTables: Uint8Array;
}

/**
 * The kernel overwrites every byte of its outputs, so zero-filling them first
 * is wasted work. A plain Uint8Array over the Buffer's memory, since callers
 * expect Uint8Array semantics (Buffer's slice() does not copy).
 */
export function uninitialized(length: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

export type MaybeShard = Uint8Array | null | undefined;

/**
 * A systematic Reed–Solomon code with k data and m parity shards over
 * GF(2^8). The encoding matrix is reed-solomon-erasure's (and Backblaze's):
 * an n×k Vandermonde matrix times the inverse of its top k×k square, so the
 * parity bytes are identical to theirs.
 */
export class ReedSolomon {
  readonly k: number;
  readonly m: number;
  readonly n: number;
  readonly #encoding: Matrix;
  readonly #parityTables: Uint8Array;
  readonly #plans = new Map<string, DecodePlan>();

  static readonly #shared = new Map<string, ReedSolomon>();

  /** A shared codec for (k, m): the matrices are built once per code. */
  static for(k: number, m: number): ReedSolomon {
    const key = `${k}+${m}`;
    let codec = ReedSolomon.#shared.get(key);
    if (!codec) {
      codec = new ReedSolomon(k, m);
      ReedSolomon.#shared.set(key, codec);
    }
    return codec;
  }

  constructor(k: number, m: number) {
    if (!Number.isInteger(k) || k < 1) throw new InvalidCodeError(`data shards must be an integer >= 1, got ${k}`);
    if (!Number.isInteger(m) || m < 0) throw new InvalidCodeError(`parity shards must be an integer >= 0, got ${m}`);
    if (k + m > MAX_SHARDS) {
      throw new InvalidCodeError(`${k}+${m} has ${k + m} shards; GF(2^8) allows at most ${MAX_SHARDS}`);
    }
    this.k = k;
    this.m = m;
    this.n = k + m;
    const v = vandermonde(this.n, k);
    const top = pickRows(
      v,
      Array.from({ length: k }, (_, i) => i),
    );
    this.#encoding = multiply(v, invert(top));
    this.#parityTables = nibbleTables(this.#parityRows(Array.from({ length: m }, (_, i) => k + i)));
  }

  /** Parity for k equal-length data shards, written into `parity` when given. */
  encode(data: readonly Uint8Array[], parity?: readonly Uint8Array[]): Uint8Array[] {
    if (data.length !== this.k) throw new ShardCountError(`expected ${this.k} data shards, got ${data.length}`);
    const length = this.#commonLength(data);
    const out = this.#outputs(parity, this.m, length, 'parity');
    mulRows(this.#parityTables, data, out, length);
    return out;
  }

  /**
   * Fills in missing shards from any k present ones and returns all n shards
   * (only the k data shards with `dataOnly`). A slot is missing when it is
   * null/undefined or listed in `lost`; a buffer left in a lost slot is
   * overwritten in place, otherwise a new one is allocated. Present shards
   * are returned as given, never copied.
   */
  reconstruct(
    shards: readonly MaybeShard[],
    options: { dataOnly?: boolean; lost?: readonly number[] } = {},
  ): Uint8Array[] {
    if (shards.length !== this.n) throw new ShardCountError(`expected ${this.n} shard slots, got ${shards.length}`);
    const lost = new Set(options.lost);
    for (const i of lost) {
      if (!Number.isInteger(i) || i < 0 || i >= this.n) {
        throw new ShardCountError(`lost shard index ${i} is outside 0..${this.n - 1}`);
      }
    }
    const available = shards.map((s, i) => (lost.has(i) ? undefined : s));
    const present = available.filter((s): s is Uint8Array => s != null);
    if (present.length < this.k) throw new TooFewShardsError(present.length, this.k, this.n);
    const length = this.#commonLength(present);
    const out = [...available];
    const target = (i: number): Uint8Array => {
      const given = shards[i];
      if (given == null) return uninitialized(length);
      if (given.length !== length)
        throw new ShardLengthError(`lost shard ${i} has ${given.length} bytes, not ${length}`);
      return given;
    };
    const plan = this.#plan(available);
    const data = plan.lostData.map(target);
    mulRows(
      plan.lostDataTables,
      plan.sources.map((i) => available[i] as Uint8Array),
      data,
      length,
    );
    plan.lostData.forEach((i, x) => {
      out[i] = data[x];
    });
    if (options.dataOnly) return out.slice(0, this.k) as Uint8Array[];
    const parity = plan.lostParity.map(target);
    mulRows(plan.lostParityTables, out.slice(0, this.k) as Uint8Array[], parity, length);
    plan.lostParity.forEach((i, x) => {
      out[i] = parity[x];
    });
    return out as Uint8Array[];
  }

  /** True when the m parity shards match the k data shards. */
  verify(shards: readonly Uint8Array[]): boolean {
    if (shards.length !== this.n) throw new ShardCountError(`expected ${this.n} shards, got ${shards.length}`);
    this.#commonLength(shards);
    const expected = this.encode(shards.slice(0, this.k));
    return expected.every((p, i) => Buffer.compare(p, shards[this.k + i]) === 0);
  }

  /** How many erasure patterns have decode tables cached (for tests and metrics). */
  get cachedPatterns(): number {
    return this.#plans.size;
  }

  #parityRows(rows: readonly number[]): Matrix {
    return pickRows(this.#encoding, rows);
  }

  #plan(shards: readonly MaybeShard[]): DecodePlan {
    const lost: number[] = [];
    shards.forEach((s, i) => {
      if (s == null) lost.push(i);
    });
    const key = lost.join(',');
    const cached = this.#plans.get(key);
    if (cached) return cached;
    const sources: number[] = [];
    for (let i = 0; i < this.n && sources.length < this.k; i++) if (shards[i] != null) sources.push(i);
    const decode = invert(pickRows(this.#encoding, sources));
    const lostData = lost.filter((i) => i < this.k);
    const lostParity = lost.filter((i) => i >= this.k);
    const plan: DecodePlan = {
      sources,
      lostData,
      lostDataTables: nibbleTables(pickRows(decode, lostData)),
      lostParity,
      lostParityTables: nibbleTables(this.#parityRows(lostParity)),
    };
    if (this.#plans.size >= DECODE_CACHE_SIZE) this.#plans.delete(this.#plans.keys().next().value as string);
    this.#plans.set(key, plan);
    return plan;
  }

  #commonLength(shards: readonly Uint8Array[]): number {
    for (const s of shards) {
      if (!(s instanceof Uint8Array)) throw new ShardLengthError('every shard must be a Uint8Array');
    }
    const length = shards[0].length;
    if (length === 0) throw new ShardLengthError('shards must not be empty');
    const odd = shards.findIndex((s) => s.length !== length);
    if (odd >= 0) {
      throw new ShardLengthError(`shards must all be ${length} bytes long; one is ${shards[odd].length} bytes`);
    }
    return length;
  }

  #outputs(given: readonly Uint8Array[] | undefined, count: number, length: number, what: string): Uint8Array[] {
    if (!given) return Array.from({ length: count }, () => uninitialized(length));
    if (given.length !== count) throw new ShardCountError(`expected ${count} ${what} buffers, got ${given.length}`);
    if (given.some((b) => b.length !== length)) {
      throw new ShardLengthError(`${what} buffers must be ${length} bytes long, like the data shards`);
    }
    return [...given];
  }
}

/**
 * Cuts `data` into k equal shards (views into one zero-padded copy), the
 * usual way a buffer is laid out before encoding.
 */
export function split(data: Uint8Array, k: number): Uint8Array[] {
  if (!Number.isInteger(k) || k < 1) throw new InvalidCodeError(`data shards must be an integer >= 1, got ${k}`);
  const size = Math.max(1, Math.ceil(data.length / k));
  const padded = new Uint8Array(size * k);
  padded.set(data);
  return Array.from({ length: k }, (_, i) => padded.subarray(i * size, (i + 1) * size));
}

/** The first `length` bytes of the data shards laid end to end: split's inverse. */
export function join(dataShards: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const s of dataShards) {
    if (at >= length) break;
    const n = Math.min(s.length, length - at);
    out.set(s.subarray(0, n), at);
    at += n;
  }
  if (at < length) throw new ShardLengthError(`shards hold ${at} bytes, fewer than the ${length} asked for`);
  return out;
}
