// What fuse/request-record.ts takes from fuse-native's request records,
// through real mounts: write-only opens as direct I/O (a write-only
// descriptor's bytes skip the kernel's page cache, one that may read keeps
// it, readers on other descriptors and mmaps see what a direct write
// changed), and utimens's own mtime.
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FUSE_REQUEST_HELPER, loadFuseRequestHelper, requestRecordProblem } from '../../fuse/request-record.js';
import { assertFuseReady, cleanUpAfterEach, run, serveDouble, tempDir, type DoubleServer } from './harness.js';

// Pages of an open file in the page cache: cachestat(2) (Linux 6.5), which
// takes any descriptor, a write-only one too (mincore would need an mmap,
// and a fresh open of a FUSE file drops its cache). Node has no such call.
const CACHED_PY = `
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Range(ctypes.Structure): _fields_ = [('off', ctypes.c_uint64), ('len', ctypes.c_uint64)]
class Stat(ctypes.Structure): _fields_ = [(n, ctypes.c_uint64) for n in ('cache', 'dirty', 'writeback', 'evicted', 'recently_evicted')]
def cached_pages(fd):
    r, s = Range(0, 0), Stat()
    if libc.syscall(451, fd, ctypes.byref(r), ctypes.byref(s), 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, 'cachestat: ' + os.strerror(e))
    return s.cache
out = {}
# Created (FUSE create), then opened again (FUSE open).
for case, name, flags in (('created write-only', 'wo', os.O_WRONLY | os.O_CREAT), ('opened write-only', 'wo', os.O_WRONLY),
                          ('created read-write', 'rw', os.O_RDWR | os.O_CREAT), ('opened read-write', 'rw', os.O_RDWR)):
    fd = os.open(os.path.join(sys.argv[1], name), flags | os.O_TRUNC, 0o644)
    for i in range(8): os.write(fd, os.urandom(131072))
    out[case] = cached_pages(fd)
    os.close(fd)
print(json.dumps(out))
`;

// One file seen through a reading descriptor and a shared mmap while
// write-only descriptors overwrite, extend and append to it.
const COHERENT_PY = `
import json, mmap, os, sys
path, seen = os.path.join(sys.argv[1], 'f'), {}
with open(path, 'wb') as f: f.write(b'A' * 65536)
r = os.open(path, os.O_RDONLY)
m = mmap.mmap(r, 65536, prot=mmap.PROT_READ)
seen['before'] = [os.pread(r, 4, 100).decode(), m[100:104].decode()]
w = os.open(path, os.O_WRONLY)
os.pwrite(w, b'B' * 8192, 0)
seen['overwritten'] = [os.pread(r, 4, 100).decode(), m[100:104].decode()]
os.pwrite(w, b'C' * 100, 70000)
seen['extended'] = [os.fstat(r).st_size, os.pread(r, 4, 70000).decode(), os.pread(r, 4, 65536).hex()]
a = os.open(path, os.O_WRONLY | os.O_APPEND)
os.write(a, b'tail')
seen['appended'] = [os.fstat(r).st_size, os.pread(r, 4, 70100).decode()]
seen['first'] = os.pread(r, 4, 8190).decode()
for fd in (w, a): os.close(fd)
m.close(); os.close(r)
seen['bytes'] = list(open(path, 'rb').read()[65530:65540])
print(json.dumps(seen))
`;

async function python(script: string, dir: string): Promise<Record<string, unknown>> {
  const r = await run('python3', ['-c', script, dir]);
  if (r.code !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

beforeAll(assertFuseReady);
cleanUpAfterEach();

describe('the helper (native/fuse-request.c)', () => {
  it('is built: setup compiles it against libfuse 2 and Node', () => {
    expect(requestRecordProblem()).toBeUndefined();
  });

  it('reads and touches nothing that is not a record of the kind asked about, for the path given', () => {
    const { helper } = loadFuseRequestHelper(FUSE_REQUEST_HELPER);
    expect(helper).toBeDefined();
    // Too short for the record, then every length around it with no request in it.
    for (const call of [helper!.directWrites, helper!.utimensMtime]) {
      expect(call(Buffer.alloc(16), '/f')).toBe(-1);
      const zeroed = Buffer.alloc(4096);
      for (let length = 64; length < zeroed.length; length += 8) expect(call(zeroed.subarray(0, length), '/f')).toBe(-1);
    }
    expect(() => helper!.directWrites('not a buffer' as unknown as Buffer, '/f')).toThrow(/a Buffer and a string/);
    expect(() => helper!.utimensMtime(Buffer.alloc(16), 7 as unknown as string)).toThrow(/a Buffer and a string/);
  });

  it('a file that does not load is reported, not thrown', async () => {
    const dir = await tempDir('direct-helper');
    const broken = join(dir, 'fuse-request.node');
    await writeFile(broken, 'not a shared object');
    expect(loadFuseRequestHelper(broken).problem).toContain(`${broken} does not load`);
    expect(loadFuseRequestHelper(join(dir, 'absent.node')).problem).toContain('is missing');
  });
});

describe('write-only opens through a mount', () => {
  let dir: string;
  let server: DoubleServer;

  beforeEach(async () => {
    dir = await tempDir('direct');
    const [started, first] = await serveDouble(dir);
    expect(first).toMatchObject({ event: 'mounted', dir });
    server = started;
  });

  it('reach the volume in 128 KiB writes, cut where the writer\'s buffer crosses a page', async () => {
    // dd's buffer is page-aligned: eight whole writes, as through the page cache.
    expect(await run('dd', ['if=/dev/urandom', `of=${join(dir, 'dd')}`, 'bs=1M', 'count=1', 'status=none'])).toMatchObject({ code: 0 });
    expect((await server.stats()).writeSizes).toEqual(new Array(8).fill(131072));
    // Node's is not: the kernel takes at most 32 pages of it a write.
    const data = Buffer.alloc(1 << 20, 7);
    await writeFile(join(dir, 'node'), data);
    const sizes = (await server.stats()).writeSizes!.slice(8);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(131072);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect((await readFile(join(dir, 'node'))).equals(data)).toBe(true);
  });

  it('leave no pages in the page cache; an open that may read keeps its 1 MiB there', async () => {
    expect(await python(CACHED_PY, dir)).toEqual({
      'created write-only': 0,
      'opened write-only': 0,
      'created read-write': 256,
      'opened read-write': 256,
    });
  });

  it('readers on other descriptors and mmaps see what they overwrite, extend and append', async () => {
    expect(await python(COHERENT_PY, dir)).toEqual({
      before: ['AAAA', 'AAAA'],
      overwritten: ['BBBB', 'BBBB'],
      extended: [70100, 'CCCC', '00000000'],
      appended: [70104, 'tail'],
      first: 'BBAA',
      bytes: [65, 65, 65, 65, 65, 65, 0, 0, 0, 0],
    });
  });
});

describe('utimens through a mount', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir('utimens');
    const [, first] = await serveDouble(dir);
    expect(first).toMatchObject({ event: 'mounted', dir });
  });

  it('keeps distinct atime and mtime: cp -p carries a source file\'s times', async () => {
    const source = join(dir, 'source');
    await writeFile(source, 'y');
    await utimes(source, new Date('2019-06-01T00:00:00.250Z'), new Date('2018-03-01T00:00:00.500Z'));
    expect(await run('cp', ['-p', source, join(dir, 'copy')])).toMatchObject({ code: 0 });
    const copy = await stat(join(dir, 'copy'));
    expect([copy.atime.toISOString(), copy.mtime.toISOString()]).toEqual(['2019-06-01T00:00:00.250Z', '2018-03-01T00:00:00.500Z']);
  });

  // tar -x sets the mtime alone (the atime UTIME_OMIT), and libfuse 2.9
  // calls utimens only when both times are set: the call never reaches
  // JavaScript (docs/FUSE.md). Expected to fail while the binding is libfuse 2.
  it.fails('tar -x restores an archived mtime', async () => {
    const source = join(dir, 'source');
    await writeFile(source, 'y');
    await utimes(source, new Date('2019-06-01T00:00:00Z'), new Date('2018-03-01T00:00:00Z'));
    const archive = join(await tempDir('utimens-tar'), 'a.tar');
    expect(await run('tar', ['-cf', archive, '-C', dir, 'source'])).toMatchObject({ code: 0 });
    await mkdir(join(dir, 'x'));
    expect(await run('tar', ['-xf', archive, '-C', join(dir, 'x')])).toMatchObject({ code: 0 });
    expect((await stat(join(dir, 'x', 'source'))).mtime.toISOString()).toBe('2018-03-01T00:00:00.000Z');
  });
});
