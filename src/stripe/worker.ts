/**
 * A stripe worker thread: seals and opens stripes for StripeEngine. Results
 * go back by transferring their one ArrayBuffer, so nothing is copied.
 */
import { parentPort } from 'node:worker_threads';
import { useHashHelper } from '../crypto/index.js';
import { openSources } from './sources.js';
import { sealStripe } from './seal.js';
import type { Reply, Request } from './engine.js';

const port = parentPort;
if (!port) throw new Error('src/stripe/worker.ts runs only as a worker thread');

function serialize(err: unknown): Reply['error'] {
  if (err instanceof Error) return { ...(err as unknown as Record<string, unknown>), name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

// This thread is one of a pool that already keeps every core busy.
useHashHelper(false);

port.on('message', async (req: Request) => {
  // A block the volume is done with, sent here only to take it off that thread's count of
  // external memory (StripeEngine.recycle); this thread's own collections, of a small heap, free it.
  if (req.op === 'recycle') return;
  try {
    if (req.op === 'seal') {
      const { descriptor, shards } = await sealStripe(req.block, req.options);
      const buffer = shards[0].buffer as ArrayBuffer;
      port.postMessage({ id: req.id, descriptor, buffer, offset: shards[0].byteOffset, size: shards[0].length } satisfies Reply, [buffer]);
    } else {
      const { block, bad } = await openSources(req.descriptor, req.shards, req.keys);
      const buffer = block.buffer as ArrayBuffer;
      port.postMessage({ id: req.id, buffer, offset: block.byteOffset, size: block.length, bad } satisfies Reply, [buffer]);
    }
  } catch (err) {
    port.postMessage({ id: req.id, error: serialize(err) } satisfies Reply);
  }
});
