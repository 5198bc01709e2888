/**
 * A stripe worker thread: seals and opens stripes for StripeEngine. Results
 * go back by transferring their one ArrayBuffer, so nothing is copied.
 */
import { parentPort } from 'node:worker_threads';
import { useHashHelper } from '../crypto/index.js';
import { keepSpare } from './spares.js';
import { openSources } from './sources.js';
import { sealStripe } from './seal.js';
import type { Reply, Request } from './engine.js';
// The module itself, not store/index: a worker should not carry every backend's code in its heap.
import { writePack } from '../store/packs.js';

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

/** Writes one pack per target from the held shards sent there; sends back the shards of stripes that have any left over. */
async function settle(req: Extract<Request, { op: 'settle' }>): Promise<void> {
  const missing = req.stripes.find((s) => !held.has(s.held));
  if (missing) throw new Error(`no stripe is held under ${missing.held}`);
  const stripes = req.stripes.map((s) => held.get(s.held)!);
  for (const s of req.stripes) held.delete(s.held);
  const groups = req.packs.map((): { id: string; bytes: Uint8Array }[] => []);
  req.stripes.forEach((s, j) => s.to.forEach((target, i) => target >= 0 && groups[target].push({ id: s.ids[i], bytes: stripes[j][i] })));
  const packs: Reply['packs'] = await Promise.all(
    groups.map(async (shards, target) => {
      if (shards.length === 0) return undefined;
      try {
        return { pack: await writePack(req.packs[target], shards) };
      } catch (err) {
        return { error: serialize(err)! };
      }
    }),
  );
  const returned: NonNullable<Reply['returned']> = [];
  req.stripes.forEach((s, index) => {
    const first = stripes[index][0];
    if (s.to.length === stripes[index].length && s.to.every((target) => target >= 0 && packs[target] && 'pack' in packs[target])) {
      // Every shard is on disk: the next seal here writes into this memory.
      keepSpare(first.buffer as ArrayBuffer);
      return;
    }
    returned.push({ index, buffer: first.buffer as ArrayBuffer, offset: first.byteOffset, size: first.length });
  });
  port.postMessage({ id: req.id, packs, returned } satisfies Reply, returned.map((r) => r.buffer));
}

port.on('message', async (req: Request) => {
  // A block the volume is done with (StripeEngine.recycle): the next one opened here reuses its memory.
  if (req.op === 'recycle') {
    keepSpare(req.buffer);
    return;
  }
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
