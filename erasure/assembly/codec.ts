// Reed–Solomon inner loop: out[r] = XOR over j of c[r][j] * in[j] in GF(2^8).
//
// Each coefficient arrives as two 16-byte tables (products with every low
// nibble, then with every high nibble), so one GF multiply of 16 bytes is two
// i8x16.swizzle lookups and an xor: the split-nibble method of ISA-L and
// Plank's GF-Complete. Rows are done four (then two, then one) at a time so
// each input vector is loaded once per group rather than once per row.
//
// Layout (all offsets in linear memory, set up by the TypeScript wrapper):
//   tables  tbl + (r * k + j) * 32   lo[16] then hi[16] for coefficient c[r][j]
//   inputs  inp + j * stride         k input rows
//   outputs out + r * stride         `rows` output rows
// `len` is a multiple of 16; the wrapper pads rows in its scratch space.

// @ts-nocheck: AssemblyScript types (v128, usize) are not TypeScript's.

const LOW_NIBBLES: v128 = i8x16.splat(0x0f);

@inline
function product(t: usize, lo: v128, hi: v128): v128 {
  return v128.xor(i8x16.swizzle(v128.load(t), lo), i8x16.swizzle(v128.load(t, 16), hi));
}

function rows4(tbl: usize, k: i32, inp: usize, out: usize, stride: usize, len: usize): void {
  const rowTables: usize = (<usize>k) << 5;
  for (let p: usize = 0; p < len; p += 16) {
    let a0 = i8x16.splat(0);
    let a1 = i8x16.splat(0);
    let a2 = i8x16.splat(0);
    let a3 = i8x16.splat(0);
    let src = inp + p;
    let t = tbl;
    for (let j = 0; j < k; j++) {
      const v = v128.load(src);
      const lo = v128.and(v, LOW_NIBBLES);
      const hi = v128.and(i16x8.shr_u(v, 4), LOW_NIBBLES);
      a0 = v128.xor(a0, product(t, lo, hi));
      a1 = v128.xor(a1, product(t + rowTables, lo, hi));
      a2 = v128.xor(a2, product(t + 2 * rowTables, lo, hi));
      a3 = v128.xor(a3, product(t + 3 * rowTables, lo, hi));
      src += stride;
      t += 32;
    }
    v128.store(out + p, a0);
    v128.store(out + stride + p, a1);
    v128.store(out + 2 * stride + p, a2);
    v128.store(out + 3 * stride + p, a3);
  }
}

function rows2(tbl: usize, k: i32, inp: usize, out: usize, stride: usize, len: usize): void {
  const rowTables: usize = (<usize>k) << 5;
  for (let p: usize = 0; p < len; p += 32) {
    let a0 = i8x16.splat(0);
    let a1 = i8x16.splat(0);
    let b0 = i8x16.splat(0);
    let b1 = i8x16.splat(0);
    let src = inp + p;
    let t = tbl;
    for (let j = 0; j < k; j++) {
      const v = v128.load(src);
      const w = v128.load(src, 16);
      const vlo = v128.and(v, LOW_NIBBLES);
      const vhi = v128.and(i16x8.shr_u(v, 4), LOW_NIBBLES);
      const wlo = v128.and(w, LOW_NIBBLES);
      const whi = v128.and(i16x8.shr_u(w, 4), LOW_NIBBLES);
      a0 = v128.xor(a0, product(t, vlo, vhi));
      b0 = v128.xor(b0, product(t, wlo, whi));
      a1 = v128.xor(a1, product(t + rowTables, vlo, vhi));
      b1 = v128.xor(b1, product(t + rowTables, wlo, whi));
      src += stride;
      t += 32;
    }
    v128.store(out + p, a0);
    v128.store(out + p, b0, 16);
    v128.store(out + stride + p, a1);
    v128.store(out + stride + p, b1, 16);
  }
}

function rows1(tbl: usize, k: i32, inp: usize, out: usize, stride: usize, len: usize): void {
  for (let p: usize = 0; p < len; p += 32) {
    let a = i8x16.splat(0);
    let b = i8x16.splat(0);
    let src = inp + p;
    let t = tbl;
    for (let j = 0; j < k; j++) {
      const v = v128.load(src);
      const w = v128.load(src, 16);
      a = v128.xor(a, product(t, v128.and(v, LOW_NIBBLES), v128.and(i16x8.shr_u(v, 4), LOW_NIBBLES)));
      b = v128.xor(b, product(t, v128.and(w, LOW_NIBBLES), v128.and(i16x8.shr_u(w, 4), LOW_NIBBLES)));
      src += stride;
      t += 32;
    }
    v128.store(out + p, a);
    v128.store(out + p, b, 16);
  }
}

/** Multiplies `rows` coefficient rows by the k input rows. `len` must be a multiple of 32. */
export function mulRows(tbl: usize, k: i32, rows: i32, inp: usize, out: usize, stride: usize, len: usize): void {
  const rowTables: usize = (<usize>k) << 5;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    rows4(tbl + <usize>r * rowTables, k, inp, out + <usize>r * stride, stride, len);
  }
  for (; r + 2 <= rows; r += 2) {
    rows2(tbl + <usize>r * rowTables, k, inp, out + <usize>r * stride, stride, len);
  }
  if (r < rows) {
    rows1(tbl + <usize>r * rowTables, k, inp, out + <usize>r * stride, stride, len);
  }
}

/** First byte of linear memory free for the wrapper's scratch space. */
export function heapBase(): usize {
  return __heap_base;
}
