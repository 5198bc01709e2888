/**
 * Side-by-side throughput: ours and a named baseline, measured in
 * alternating rounds in the same process so that machine noise (other
 * tenants, frequency changes) hits both alike; each side reports its median
 * round. Only ratios mean much on a shared machine.
 */

export interface Comparison {
  ours_MBps: number;
  reference_MBps: number;
  ratio: number;
}

export interface CompareOptions {
  /** Alternating rounds per side. */
  rounds?: number;
  /** Minimum time of one round, in milliseconds. */
  roundMs?: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One side of a comparison: what to run, and how many bytes one run processes. */
export interface Side {
  run: () => unknown;
  bytes: number;
}

/** MB/s (10^6 bytes per second) of `side` run repeatedly for at least `ms`; async runs are awaited. */
async function round(side: Side, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    const result = side.run();
    if (result instanceof Promise) await result;
    ops++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (side.bytes * ops) / (elapsed / 1000) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const rounded = (x: number) => Math.round(x * 10) / 10;

export async function compare(ours: Side, reference: Side, options: CompareOptions = {}): Promise<Comparison> {
  const rounds = options.rounds ?? 5;
  const ms = options.roundMs ?? 150;
  await ours.run();
  await reference.run();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await round(ours, ms));
    await tick();
    b.push(await round(reference, ms));
    await tick();
  }
  const o = median(a);
  const r = median(b);
  return { ours_MBps: rounded(o), reference_MBps: rounded(r), ratio: Math.round((o / r) * 100) / 100 };
}
