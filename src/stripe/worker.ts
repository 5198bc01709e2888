/**
 * A stripe worker thread: seals and opens stripes for StripeEngine. Results
 * go back by transferring their one ArrayBuffer, so nothing is copied.
 */
import { parentPort } from 'node:worker_threads';
import { useHashHelper } from '../crypto/index.js';
import { openSources } from './sources.js';
import { sealStripe } from './seal.js';
import type { Reply, Request } from './engine.js';
// The module itself, not store/index: a worker should not carry every backend's code in its heap.
import { writeShardFile } from '../store/fsio.js';

if (!parentPort) throw new Error('src/stripe/worker.ts runs only as a worker thread');
const port = parentPort;

function serialize(err: unknown): Reply['error'] {
  if (err instanceof Error) return { ...(err as unknown as Record<string, unknown>), name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

// This thread is one of a pool that already keeps every core busy.
useHashHelper(false);

/** Shards of stripes sealed with `hold`, by the seal's request id, until their settle. */
const held = new Map<number, Uint8Array[]>();

/** Writes the held shards that have files (all at once, like the puts they stand for); sends back the shards only if some are left. */
async function settle(req: Extract<Request, { op: 'settle' }>): Promise<void> {
  const shards = held.get(req.held);
  held.delete(req.held);
  if (!shards) throw new Error(`no stripe is held under ${req.held}`);
  const written: Reply['written'] = await Promise.all(
    shards.map(async (bytes, i) => {
      const target = req.files[i];
      if (!target) return undefined;
      try {
        return { previous: await writeShardFile(target, bytes) };
      } catch (err) {
        return { error: serialize(err)! };
      }
    }),
  );
  if (written.every((w) => w && !('error' in w))) {
    port.postMessage({ id: req.id, written } satisfies Reply);
    return;
  }
  const buffer = shards[0].buffer as ArrayBuffer;
  port.postMessage({ id: req.id, written, buffer, offset: shards[0].byteOffset, size: shards[0].length } satisfies Reply, [buffer]);
}

port.on('message', async (req: Request) => {
  // A block the volume is done with, sent here only to take it off that thread's count of
  // external memory (StripeEngine.recycle); this thread's own collections, of a small heap, free it.
  if (req.op === 'recycle') return;
  try {
    if (req.op === 'seal') {
      const { descriptor, shards } = await sealStripe(req.block, req.options);
      if (req.hold) {
        held.set(req.id, shards);
        port.postMessage({ id: req.id, descriptor, size: shards[0].length } satisfies Reply);
        return;
      }
      const buffer = shards[0].buffer as ArrayBuffer;
      port.postMessage({ id: req.id, descriptor, buffer, offset: shards[0].byteOffset, size: shards[0].length } satisfies Reply, [buffer]);
    } else if (req.op === 'settle') {
      await settle(req);
    } else {
      const { block, bad } = await openSources(req.descriptor, req.shards, req.keys);
      const buffer = block.buffer as ArrayBuffer;
      port.postMessage({ id: req.id, buffer, offset: block.byteOffset, size: block.length, bad } satisfies Reply, [buffer]);
    }
  } catch (err) {
    port.postMessage({ id: req.id, error: serialize(err) } satisfies Reply);
  }
});
