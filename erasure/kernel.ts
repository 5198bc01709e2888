/**
 * The wasm SIMD kernel and the scratch memory it works in. Shards live in JS
 * memory; they pass through the kernel in chunks small enough that the
 * chunk's inputs and outputs stay in cache between the copy in, the
 * multiply and the copy out.
 */
import codecWasmBase64 from './build/codec-wasm.js';

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  mulRows(
    tables: number,
    k: number,
    rows: number,
    inputs: number,
    outputs: number,
    stride: number,
    length: number,
  ): void;
  heapBase(): number;
}

const CHUNK_BYTES = 32 * 1024;
const ALIGN = 32;
const PAGE = 65536;

let kernel: KernelExports | undefined;

function load(): KernelExports {
  if (!kernel) {
    const module = new WebAssembly.Module(Buffer.from(codecWasmBase64, 'base64'));
    kernel = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
  }
  return kernel;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

function memoryOfAtLeast(k: KernelExports, bytes: number): Uint8Array {
  const missing = bytes - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / PAGE));
  return new Uint8Array(k.memory.buffer);
}

/**
 * outputs[r][i] = XOR over j of coefficient(r, j) * inputs[j][i] for i < length,
 * with the coefficients given as `nibbleTables` (rows = outputs.length).
 */
export function mulRows(
  tables: Uint8Array,
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
  length: number,
): void {
  const k = inputs.length;
  const rows = outputs.length;
  if (rows === 0 || length === 0) return;
  const wasm = load();
  const stride = Math.min(CHUNK_BYTES, roundUp(length, ALIGN));
  const tablesAt = roundUp(wasm.heapBase(), ALIGN);
  const inputsAt = tablesAt + roundUp(tables.length, ALIGN);
  const outputsAt = inputsAt + k * stride;
  const mem = memoryOfAtLeast(wasm, outputsAt + rows * stride);
  mem.set(tables, tablesAt);
  for (let offset = 0; offset < length; offset += stride) {
    const n = Math.min(stride, length - offset);
    for (let j = 0; j < k; j++) mem.set(inputs[j].subarray(offset, offset + n), inputsAt + j * stride);
    // Bytes past n in the last chunk are stale; the kernel computes them and we drop them.
    wasm.mulRows(tablesAt, k, rows, inputsAt, outputsAt, stride, roundUp(n, ALIGN));
    for (let r = 0; r < rows; r++) {
      const from = outputsAt + r * stride;
      outputs[r].set(mem.subarray(from, from + n), offset);
    }
  }
}
