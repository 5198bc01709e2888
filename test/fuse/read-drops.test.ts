// Streamed reads drop their file's cached pages behind them
// (fuse/read-drops.ts): the bookkeeping alone, the adapter's answer to
// libfuse's hide of a file only a drop held open, and both through a real
// mount.
import { constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fuseOps } from '../../fuse/adapter.js';
import { DROP_EVERY_BYTES, type OpenFile, ReadDrops, isHideRename } from '../../fuse/read-drops.js';
import type { Attr, VolumeFs } from '../../src/volume/index.js';
import { assertFuseReady, cleanUpAfterEach, run, serveDouble, tempDir, type DoubleServer } from './harness.js';

const MiB = 2 ** 20;
const DROP_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK;
const HIDDEN = '/d/.fuse_hidden0000000700000001';

/** An opener whose opens stay pending until let go, as a drop's open waits on the mount's answer. */
function heldOpens(): { openFile: OpenFile; opened: string[]; letGo: () => Promise<void> } {
  const opened: string[] = [];
  const waiting: Array<() => void> = [];
  return {
    opened,
    openFile: (path) => {
      opened.push(path);
      return new Promise((done) => waiting.push(() => done({ close: async () => undefined })));
    },
    letGo: async () => {
      waiting.splice(0).forEach((go) => go());
      await new Promise((done) => setTimeout(done, 10));
    },
  };
}

describe('ReadDrops, alone', () => {

  it('drops once per 32 MiB read in order on a handle, however read-ahead orders them; a reader jumping about never drops', async () => {
    const held = heldOpens();
    const drops = new ReadDrops('/mnt/v', held.openFile);
    for (let at = 0; at < DROP_EVERY_BYTES - MiB; at += MiB) drops.read('/f', 1, at, MiB);
    expect(drops.drops).toBe(0);
    drops.read('/f', 2, 0, MiB); // another handle keeps its own count
    drops.read('/f', 1, DROP_EVERY_BYTES - MiB, MiB);
    expect(drops.drops).toBe(1);
    expect(held.opened).toEqual(['/mnt/v/f']);
    await held.letGo();
    // Read-ahead finishes reads out of order: still in order.
    for (let at = 0; at < DROP_EVERY_BYTES; at += 2 * MiB) {
      drops.read('/f', 3, at + MiB, MiB);
      drops.read('/f', 3, at, MiB);
    }
    expect(drops.drops).toBe(2);
    // A reader jumping about (16 MiB apart) never drops.
    for (let i = 0; i < 64; i++) drops.read('/f', 4, ((i * 7) % 64) * 16 * MiB, MiB);
    expect(drops.drops).toBe(2);
  });

  it('claims the open of a drop by its path and flags, and owes a hide to it only while no one else holds the file', async () => {
    const held = heldOpens();
    const drops = new ReadDrops('/mnt/v', held.openFile);
    for (let at = 0; at < DROP_EVERY_BYTES; at += MiB) drops.read('/f', 1, at, MiB);
    expect(drops.opened('/f', fsConstants.O_RDONLY, 10, 7)).toBe(false); // a user's open, not the drop's
    expect(drops.opened('/g', DROP_FLAGS, 11, 8)).toBe(false); // another path
    expect(drops.opened('/f', DROP_FLAGS, 12, 7)).toBe(true);
    expect(drops.opened('/f', DROP_FLAGS, 13, 7)).toBe(false); // one drop, one claim
    expect(drops.hideIsUnlink(7)).toBe(false); // users hold 10 and 13
    drops.released(10);
    drops.released(13);
    expect(drops.hideIsUnlink(7)).toBe(true); // only the drop's handle
    drops.released(12);
    expect(drops.hideIsUnlink(7)).toBe(true); // libfuse counts the release a moment later
    expect(drops.hideIsUnlink(8)).toBe(false); // never dropped
    // Once the drop is done, an open of the path is a user's again.
    await held.letGo();
    expect(drops.opened('/f', DROP_FLAGS, 14, 7)).toBe(false);
  });

  it('knows libfuse 2 hide names', () => {
    expect(isHideRename('/d/file', HIDDEN)).toBe(true);
    expect(isHideRename('/elsewhere/file', HIDDEN)).toBe(false);
    expect(isHideRename('/d/file', '/d/.fuse_hidden-not-hex')).toBe(false);
    expect(isHideRename('/d/file', '/d/renamed')).toBe(false);
  });
});

describe('the adapter with read drops', () => {
  const attr = (ino: number): Attr => ({ ino, mode: fsConstants.S_IFREG | 0o644, nlink: 1, uid: 0, gid: 0, size: 1, atimeMs: 0, mtimeMs: 0, ctimeMs: 0 });
  const answer = (call: (cb: (...args: unknown[]) => void) => void): Promise<unknown[]> => new Promise((done) => call((...a) => done(a)));

  function fakeVolume(calls: string[]): VolumeFs {
    let next = 20;
    return {
      readOnly: false,
      open: async () => next++,
      fgetattr: async () => attr(7),
      getattr: async () => attr(7),
      read: async (_fh: number, _into: Uint8Array, length: number) => length,
      release: async () => undefined,
      rename: async (src: string, dest: string) => void calls.push(`rename ${src} ${dest}`),
      unlink: async (path: string) => void calls.push(`unlink ${path}`),
    } as unknown as VolumeFs;
  }

  it('turns a hide owed only to a drop into the unlink it stands for; any other rename stays one', async () => {
    const calls: string[] = [];
    const drops = new ReadDrops('/mnt/v', heldOpens().openFile);
    const ops = fuseOps(fakeVolume(calls), { drops });
    const [, reader] = await answer((cb) => ops.open('/d/f', fsConstants.O_RDONLY, cb));
    for (let at = 0; at < DROP_EVERY_BYTES; at += MiB) await answer((cb) => ops.read('/d/f', reader as number, Buffer.alloc(0), MiB, at, cb));
    expect(drops.drops).toBe(1);
    const [, drop] = await answer((cb) => ops.open('/d/f', DROP_FLAGS, cb));
    // The reader still holds it: libfuse's hide stays a rename.
    expect(await answer((cb) => ops.rename('/d/f', HIDDEN, cb))).toEqual([0]);
    await answer((cb) => ops.release('/d/f', reader as number, cb));
    expect(await answer((cb) => ops.rename('/d/f', HIDDEN, cb))).toEqual([0]);
    await answer((cb) => ops.release('/d/f', drop as number, cb));
    expect(await answer((cb) => ops.rename('/d/f', '/d/g', cb))).toEqual([0]);
    expect(calls).toEqual([`rename /d/f ${HIDDEN}`, 'unlink /d/f', 'rename /d/f /d/g']);
  });
});

describe('read drops through a mount', () => {
  let dir: string;
  let server: DoubleServer;

  beforeAll(assertFuseReady);
  cleanUpAfterEach();

  beforeEach(async () => {
    dir = await tempDir('drops');
    const [started, first] = await serveDouble(dir);
    expect(first).toMatchObject({ event: 'mounted', dir });
    server = started;
  });

  // A streamed read, then what its own descriptor finds in the page cache
  // (cachestat(2): a fresh open of a FUSE file would drop it).
  const STREAM_PY = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Range(ctypes.Structure): _fields_ = [('off', ctypes.c_uint64), ('len', ctypes.c_uint64)]
class Stat(ctypes.Structure): _fields_ = [(n, ctypes.c_uint64) for n in ('cache', 'dirty', 'writeback', 'evicted', 'recently_evicted')]
fd = os.open(sys.argv[1], os.O_RDONLY)
total = 0
while True:
    b = os.read(fd, 1 << 20)
    if not b: break
    total += len(b)
r, s = Range(0, 0), Stat()
if libc.syscall(451, fd, ctypes.byref(r), ctypes.byref(s), 0) != 0: raise OSError(ctypes.get_errno(), 'cachestat')
print(total, s.cache)
`;

  it('a 72 MiB read leaves at most its last stretch in the page cache, not the whole file', async () => {
    const file = join(dir, 'big');
    expect(await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=72', 'status=none'], 60_000)).toMatchObject({ code: 0 });
    const opensBefore = (await server.stats()).calls!.open ?? 0;
    const r = await run('python3', ['-c', STREAM_PY, file], 60_000);
    expect(r.stderr).toBe('');
    const [total, cachedPages] = r.stdout.trim().split(' ').map(Number);
    expect(total).toBe(72 * MiB);
    // Drops at 32 and 64 MiB: what is left is what came after the last one that finished.
    expect(cachedPages * 4096).toBeLessThan(41 * MiB);
    expect(((await server.stats()).calls!.open ?? 0) - opensBefore).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('rm -r right after streaming a file out of its directory finds the directory empty, every time', async () => {
    for (let i = 0; i < 4; i++) {
      const sub = join(dir, `d${i}`);
      expect(await run('mkdir', [sub])).toMatchObject({ code: 0 });
      expect(await run('dd', ['if=/dev/zero', `of=${join(sub, 'f')}`, 'bs=1M', 'count=34', 'status=none'], 60_000)).toMatchObject({ code: 0 });
      const r = await run('sh', ['-c', `dd if=${join(sub, 'f')} of=/dev/null bs=1M status=none && rm -r ${sub}`], 60_000);
      expect(r).toMatchObject({ code: 0, stderr: '' });
    }
    expect((await run('ls', ['-a', dir])).stdout.split('\n').filter(Boolean)).toEqual(['.', '..']);
  }, 120_000);
});
