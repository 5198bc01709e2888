/**
 * Child process for the mount tests (run from dist/, forked with IPC):
 * mounts a MemoryFs at DIR and serves it, so that the test process can use
 * the mount without ever blocking the thread that answers it.
 * Usage: serve-double.js DIR [--read-only] [--force] [--seed]
 * (--seed: the volume starts with /seed.txt holding "seed data\n").
 *
 * To the parent: {event:'mounted', dir} | {event:'error', name, code, message}
 *   | {event:'stats', writeSizes, readSizes, calls} | {event:'unmounted'}.
 * From the parent: {cmd:'stats'} | {cmd:'unmount'} (then the process exits).
 */
import { mountVolume } from '../../fuse/index.js';
import { MemoryFs } from './memory-fs.js';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'))!;
const send = (message: object): void => {
  process.send!(message);
};
const sendError = (err: Error & { code?: string }): void =>
  send({ event: 'error', name: err.name, code: err.code, message: err.message });

const memory = new MemoryFs({ readOnly: args.includes('--read-only') });
if (args.includes('--seed')) memory.seed('/seed.txt', 'seed data\n');

// How often each VolumeFs method was called, to see which ones the kernel used.
const calls: Record<string, number> = {};
const fs = new Proxy(memory, {
  get(target, prop, receiver) {
    const value: unknown = Reflect.get(target, prop, receiver);
    if (typeof value !== 'function' || typeof prop !== 'string') return value;
    return (...callArgs: unknown[]) => {
      calls[prop] = (calls[prop] ?? 0) + 1;
      return (value as (...a: unknown[]) => unknown).apply(target, callArgs);
    };
  },
});

try {
  const mounted = await mountVolume(fs, dir, { force: args.includes('--force') });
  process.on('message', (message: { cmd: string }) => {
    if (message.cmd === 'stats') {
      send({ event: 'stats', writeSizes: memory.writeSizes, readSizes: memory.readSizes, calls });
    }
    if (message.cmd === 'unmount') {
      mounted
        .unmount()
        .then(() => mounted.unmount()) // twice: unmount is idempotent
        .then(() => {
          send({ event: 'unmounted' });
          process.disconnect();
        }, sendError);
    }
  });
  send({ event: 'mounted', dir: mounted.dir });
} catch (err) {
  sendError(err as Error);
  process.disconnect();
}
