import { parseCode } from '../../src/cli/parse.js';
import { UsageError } from '../../src/errors/index.js';

/**
 * How a stripe is stored: k data shards and m redundant ones on n = k + m
 * distinct peers; any m may be lost. Replication "3x" is k = 1, m = 2: each
 * copy is a shard and any one of them rebuilds the others.
 */
export interface Scheme {
  label: string;
  k: number;
  m: number;
  n: number;
}

export const DEFAULT_SCHEMES = ['3x', '4+2', '6+3', '10+4', '17+3'] as const;

/** "3x" -> 3 copies; "4+2" -> k = 4, m = 2. */
export function parseScheme(text: string): Scheme {
  const copies = /^\s*(\d+)\s*x\s*$/i.exec(text);
  if (copies) {
    const r = Number(copies[1]);
    if (r < 1 || r > 256) throw new UsageError(`"${text}" is not a scheme; replication is 1x to 256x`);
    return { label: `${r}x`, k: 1, m: r - 1, n: r };
  }
  let code: { k: number; m: number };
  try {
    code = parseCode(text);
  } catch {
    throw new UsageError(`"${text}" is not a scheme; use K+M (e.g. 4+2) or Nx replication (e.g. 3x)`);
  }
  return { label: `${code.k}+${code.m}`, k: code.k, m: code.m, n: code.k + code.m };
}

/** Bytes stored per byte of data. */
export function overhead(s: Scheme): number {
  return s.n / s.k;
}
