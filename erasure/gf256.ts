/**
 * Arithmetic in GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11D) and
 * generator 2: the field of reed-solomon-erasure, Backblaze's JavaReedSolomon
 * and ISA-L. Only matrix set-up runs here; bulk data goes through the wasm
 * kernel, which gets its products from `nibbleTables`.
 */

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
}

export function mul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a] + LOG[b]];
}

export function inverse(a: number): number {
  if (a === 0) throw new RangeError('zero has no inverse in GF(2^8)');
  return EXP[255 - LOG[a]];
}

/** a^n, with 0^0 = 1 as the Vandermonde construction expects. */
export function pow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a] * n) % 255];
}

/** A row-major matrix over GF(2^8). */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
}

export function vandermonde(rows: number, cols: number): Matrix {
  const data = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = pow(r, c);
  }
  return { rows, cols, data };
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  const data = new Uint8Array(a.rows * b.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < b.cols; c++) {
      let acc = 0;
      for (let i = 0; i < a.cols; i++) acc ^= mul(a.data[r * a.cols + i], b.data[i * b.cols + c]);
      data[r * b.cols + c] = acc;
    }
  }
  return { rows: a.rows, cols: b.cols, data };
}

/** The matrix made of the given rows of `m`, in that order. */
export function pickRows(m: Matrix, rows: readonly number[]): Matrix {
  const data = new Uint8Array(rows.length * m.cols);
  rows.forEach((r, i) => {
    data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return { rows: rows.length, cols: m.cols, data };
}

/** Gauss–Jordan inversion of a square matrix; throws on a singular one. */
export function invert(m: Matrix): Matrix {
  const n = m.rows;
  if (n !== m.cols) throw new RangeError(`cannot invert a ${m.rows}x${m.cols} matrix`);
  const w = 2 * n;
  const a = new Uint8Array(n * w);
  for (let r = 0; r < n; r++) {
    a.set(m.data.subarray(r * n, (r + 1) * n), r * w);
    a[r * w + n + r] = 1;
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot * w + col] === 0) pivot++;
    if (pivot === n) throw new RangeError('matrix is singular');
    if (pivot !== col) {
      const tmp = a.slice(col * w, (col + 1) * w);
      a.copyWithin(col * w, pivot * w, (pivot + 1) * w);
      a.set(tmp, pivot * w);
    }
    const scale = inverse(a[col * w + col]);
    for (let c = 0; c < w; c++) a[col * w + c] = mul(a[col * w + c], scale);
    for (let r = 0; r < n; r++) {
      const f = a[r * w + col];
      if (r === col || f === 0) continue;
      for (let c = 0; c < w; c++) a[r * w + c] ^= mul(f, a[col * w + c]);
    }
  }
  const data = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) data.set(a.subarray(r * w + n, (r + 1) * w), r * n);
  return { rows: n, cols: n, data };
}

/**
 * For each coefficient of `m`, 32 bytes: its products with the 16 low
 * nibbles, then with the 16 high nibbles. This is the table layout the wasm
 * kernel reads.
 */
export function nibbleTables(m: Matrix): Uint8Array {
  const out = new Uint8Array(m.data.length * 32);
  m.data.forEach((c, i) => {
    for (let x = 0; x < 16; x++) {
      out[i * 32 + x] = mul(c, x);
      out[i * 32 + 16 + x] = mul(c, x << 4);
    }
  });
  return out;
}
