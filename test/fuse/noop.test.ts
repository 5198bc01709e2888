// The no-op filesystem served by fuse/serve-noop.ts, as the FUSE benchmark
// spawns it: writes are counted and dropped, reads are zeros.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertFuseReady,
  cleanUpAfterEach,
  distScript,
  isMounted,
  run,
  SERVE_NOOP,
  tempDir,
  within,
} from './harness.js';

beforeAll(assertFuseReady);
cleanUpAfterEach();

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await within(once(child, 'exit'), 'serve-noop exit', 5_000).catch(() => undefined);
  }
  child = undefined;
});

describe('serve-noop', () => {
  it('mounts, counts 128 KiB writes, reads zeros, and reports on SIGTERM', async () => {
    const dir = await tempDir('noop');
    child = spawn(process.execPath, [distScript(SERVE_NOOP), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> =>
      JSON.parse((await within(lines.next(), 'a line from serve-noop')).value as string) as Record<string, unknown>;
    try {
      expect(await next()).toEqual({ event: 'mounted', dir });
      const dd = await run('dd', ['if=/dev/zero', `of=${join(dir, 'f')}`, 'bs=1M', 'count=8']);
      expect(dd.code).toBe(0);
      expect(await within(readdir(dir), 'readdir')).toEqual(['f']);

      const fh = await within(open(join(dir, 'f'), 'r'), 'open');
      try {
        const back = await within(fh.readFile(), 'read');
        expect(back.length).toBe(8 << 20);
        expect(back.every((b) => b === 0)).toBe(true);
      } finally {
        await within(fh.close(), 'close');
      }

      child.kill('SIGTERM');
      const last = await next();
      expect(last).toMatchObject({
        event: 'unmounted',
        stats: { writes: 64, bytesWritten: 8 << 20, largestWrite: 131072, bytesRead: 8 << 20, largestRead: 131072 },
      });
      expect((await within(once(child, 'exit'), 'serve-noop exit'))[0]).toBe(0);
      expect(await isMounted(dir)).toBe(false);
    } finally {
      await lines.return?.();
    }
  });
});
