/**
 * A second thread for SHA-256, so a single seal or open uses two cores:
 * shard ids cost as much CPU as the encryption itself. The thread reads the
 * bytes in place from a SharedArrayBuffer (no copy) and sends back hex ids.
 * One helper per process, started on first use, never keeping the process
 * alive while idle.
 */
import { Worker } from 'node:worker_threads';
import type { ShardId } from './hash.js';

// Plain CommonJS run with eval, so it works the same from sources and from dist/.
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffer, ranges }) => {
  const ids = ranges.map(([offset, length]) =>
    createHash('sha256').update(new Uint8Array(buffer, offset, length)).digest('hex'));
  parentPort.postMessage({ id, ids });
});`;

let worker: Worker | undefined;
let enabled = true;
let nextId = 0;
const pending = new Map<number, { resolve: (ids: ShardId[]) => void; reject: (e: Error) => void }>();

/** Threads that already keep every core busy (the stripe engine's workers) turn the helper off. */
export function useHashHelper(on: boolean): void {
  enabled = on;
}

export function hashHelperEnabled(): boolean {
  return enabled;
}

function start(): Worker {
  const w = new Worker(SOURCE, { eval: true });
  w.unref();
  w.on('message', ({ id, ids }: { id: number; ids: ShardId[] }) => {
    pending.get(id)?.resolve(ids);
    pending.delete(id);
    if (pending.size === 0) w.unref();
  });
  const fail = (err: Error) => {
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`hash helper thread exited with code ${code}`)));
  return w;
}

/** SHA-256 ids of byte ranges of a SharedArrayBuffer, computed on the helper thread. */
export function hashOnHelper(buffer: SharedArrayBuffer, ranges: readonly (readonly [number, number])[]): Promise<ShardId[]> {
  worker ??= start();
  const w = worker;
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, buffer, ranges });
  });
}
