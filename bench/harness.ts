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

/** MB/s (10^6 bytes per second) of `fn` run repeatedly for at least `ms`. */
function round(fn: () => void, bytes: number, ms: number): number {
  let ops = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    fn();
    ops++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (bytes * ops) / (elapsed / 1000) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const rounded = (x: number) => Math.round(x * 10) / 10;

/** `bytes` is what one call of either function processes. */
export async function compare(
  ours: () => void,
  reference: () => void,
  bytes: number,
  options: CompareOptions = {},
): Promise<Comparison> {
  const rounds = options.rounds ?? 5;
  const ms = options.roundMs ?? 150;
  ours();
  reference();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(round(ours, bytes, ms));
    await tick();
    b.push(round(reference, bytes, ms));
    await tick();
  }
  const o = median(a);
  const r = median(b);
  return { ours_MBps: rounded(o), reference_MBps: rounded(r), ratio: Math.round((o / r) * 100) / 100 };
}
