// The mount point's lifecycle: refusals before mounting, recovery from a
// crashed server, and unmounting (idle, busy, twice).
import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertFuseReady, cleanUpAfterEach, isMounted, serveDouble, tempDir, within } from './harness.js';

const io = <T>(promise: Promise<T>): Promise<T> => within(promise, 'a call on the mount');

beforeAll(assertFuseReady);
cleanUpAfterEach();

describe('before mounting', () => {
  it('refuses a non-empty mount point', async () => {
    const dir = await tempDir('busy');
    await writeFile(join(dir, 'precious'), 'keep me');
    const [, first] = await serveDouble(dir);
    expect(first).toMatchObject({
      event: 'error',
      name: 'MountPointBusyError',
      code: 'mount.busy',
      message: `${dir} is not empty; use --force to mount over it`,
    });
    expect(await isMounted(dir)).toBe(false);
  });

  it('mounts over a non-empty directory with force, whose files come back after unmount', async () => {
    const dir = await tempDir('force');
    await writeFile(join(dir, 'precious'), 'keep me');
    const [server, first] = await serveDouble(dir, ['--force']);
    expect(first.event).toBe('mounted');
    expect(await io(readdir(dir))).toEqual([]);
    expect(await server.unmount()).toMatchObject({ event: 'unmounted' });
    expect(await readFile(join(dir, 'precious'), 'utf8')).toBe('keep me');
  });

  it('refuses a mount point that is a file or missing', async () => {
    const dir = await tempDir('notdir');
    await writeFile(join(dir, 'file'), '');
    const [, onFile] = await serveDouble(join(dir, 'file'));
    expect(onFile).toMatchObject({
      event: 'error',
      name: 'MountPointError',
      message: `mount point ${join(dir, 'file')} is not a directory`,
    });
    const [, onMissing] = await serveDouble(join(dir, 'missing'));
    expect(onMissing).toMatchObject({ event: 'error', name: 'MountPointError' });
    expect(onMissing.message).toContain('does not exist');
  });

  it('refuses a directory that is already mounted, even with force', async () => {
    const dir = await tempDir('twice');
    const [, first] = await serveDouble(dir);
    expect(first.event).toBe('mounted');
    const [, second] = await serveDouble(dir, ['--force']);
    expect(second).toMatchObject({ event: 'error', name: 'MountPointBusyError' });
    expect(second.message).toContain('already a mount point');
  });
});

describe('a dead mount from a crashed server', () => {
  it('is cleared, and the next mount on the same directory works', async () => {
    const dir = await tempDir('dead');
    const [crashing, first] = await serveDouble(dir);
    expect(first.event).toBe('mounted');
    await io(writeFile(join(dir, 'f'), 'before the crash'));
    crashing.child.kill('SIGKILL');
    await crashing.exited();
    await expect(io(stat(dir))).rejects.toMatchObject({ code: 'ENOTCONN' });
    expect(await isMounted(dir)).toBe(true);

    const [, again] = await serveDouble(dir);
    expect(again).toMatchObject({ event: 'mounted', dir });
    await io(mkdir(join(dir, 'alive')));
    expect(await io(readdir(dir))).toEqual(['alive']);
  });
});

describe('unmount', () => {
  it('of an idle mount is prompt, idempotent, and lets the server exit on its own', async () => {
    const dir = await tempDir('idle');
    const [server] = await serveDouble(dir);
    const started = Date.now();
    expect(await server.unmount()).toMatchObject({ event: 'unmounted' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await isMounted(dir)).toBe(false);
    expect(await server.exited(5_000)).toBe(0);
  });

  it('of a busy mount retries, then detaches it lazily', async () => {
    const dir = await tempDir('busy-unmount');
    const [server] = await serveDouble(dir);
    await io(writeFile(join(dir, 'open'), 'held'));
    const held = await io(open(join(dir, 'open'), 'r'));
    try {
      const started = Date.now();
      expect(await server.unmount()).toMatchObject({ event: 'unmounted' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect(await isMounted(dir)).toBe(false);
    } finally {
      await held.close().catch(() => undefined);
    }
  });
});
