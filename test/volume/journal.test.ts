import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuthenticationError, newKey } from '../../src/crypto/index.js';
import { Journal, JournalError } from '../../src/volume/journal.js';
import type { Op } from '../../src/volume/ops.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('journal');
let n = 0;
const write = (i: number): Op => ({ op: 'write', ino: 2, position: i, data: new Uint8Array([i, i + 1]), now: 1000 + i });

describe('the write-back journal', () => {
  it('replays what was appended, in order, after a reopen', async () => {
    const dir = join(root, `j${++n}`);
    const key = newKey();
    const j = await Journal.open(dir, key);
    await j.append({ op: 'mkdir', path: '/a', mode: 0o755, now: 1 });
    await j.append(write(7));
    await j.append({ op: 'setxattr', path: '/a', name: 'user.x', value: new Uint8Array([9]), flags: 0, now: 2 });
    await j.close();
    const again = await Journal.open(dir, key);
    const ops = await again.pending();
    expect(ops.map((o) => o.op)).toEqual(['mkdir', 'write', 'setxattr']);
    expect(ops[1]).toEqual(write(7));
    expect(again.lastSeq).toBe(3);
    await again.close();
  });

  it('gives every record a nonce of its own (docs/FORMAT.md: bytes 12-35 of a record)', async () => {
    const dir = join(root, `j${++n}`);
    const j = await Journal.open(dir, newKey());
    for (let i = 0; i < 50; i++) await j.append(write(i));
    await j.close();
    const file = readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith('journal-'))!));
    const nonces = new Set<string>();
    for (let at = 0; at < file.length; at += 12 + file.readUInt32LE(at)) {
      nonces.add(file.subarray(at + 12, at + 36).toString('hex'));
    }
    expect(nonces.size).toBe(50);
    expect(nonces.has('00'.repeat(24))).toBe(false);
  });

  it('forgets what a commit cleared, also across reopen, and deletes covered files', async () => {
    const dir = join(root, `j${++n}`);
    const key = newKey();
    const j = await Journal.open(dir, key);
    for (let i = 0; i < 3; i++) await j.append(write(i));
    await j.clearThrough(2);
    expect((await j.pending()).map((o) => (o as { position: number }).position)).toEqual([2]);
    await j.append(write(3));
    await j.clearThrough(4);
    expect(await j.pending()).toEqual([]);
    await j.close();
    const again = await Journal.open(dir, key);
    expect(await again.pending()).toEqual([]);
    expect(again.lastSeq).toBe(4);
    expect(readdirSync(dir).filter((f) => f.startsWith('journal-')).length).toBe(1);
    await again.close();
  });

  it('writes over cleared files (at most two kept) and never replays what they held before', async () => {
    const dir = join(root, `j${++n}`);
    const key = newKey();
    const big = (i: number): Op => ({ op: 'write', ino: 2, position: i, data: new Uint8Array(4096).fill(i), now: 1000 + i });
    const logs = () => readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    const j = await Journal.open(dir, key);
    for (let i = 1; i <= 5; i++) await j.append(big(i));
    await j.clearThrough(5);
    expect(logs()).toEqual([expect.stringMatching(/^journal-0{15}6\.log$/), expect.stringMatching(/^spare-/)]);
    await j.append(write(6));
    await j.clearThrough(6);
    // The spare became the current file, written over from its start; the cleared one is the spare now.
    expect(logs()).toEqual([expect.stringMatching(/^journal-0{15}7\.log$/), expect.stringMatching(/^spare-/)]);
    const current = join(dir, logs()[0]);
    expect(readFileSync(current).length).toBeGreaterThan(5 * 4096);
    await j.append(write(7));
    expect((await j.pending()).map((o) => (o as { position: number }).position)).toEqual([7]);
    await j.close();
    // A crash (no clear) and a reopen: only the change made since replays, not the file's older records.
    const again = await Journal.open(dir, key);
    expect((await again.pending()).map((o) => (o as { position: number }).position)).toEqual([7]);
    expect(again.lastSeq).toBe(7);
    for (let i = 8; i <= 12; i++) {
      await again.append(write(i));
      await again.clearThrough(i);
    }
    expect(logs().filter((f) => f.startsWith('spare-')).length).toBeLessThanOrEqual(2);
    await again.close();
    const last = await Journal.open(dir, key);
    expect(await last.pending()).toEqual([]);
    await last.close();
  });

  it('a torn last record (a crash mid-write) is dropped; later appends still replay', async () => {
    const dir = join(root, `j${++n}`);
    const key = newKey();
    const j = await Journal.open(dir, key);
    await j.append(write(1));
    await j.close();
    const file = readdirSync(dir).find((f) => f.startsWith('journal-'))!;
    appendFileSync(join(dir, file), Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    const again = await Journal.open(dir, key);
    await again.append(write(2));
    expect((await again.pending()).map((o) => (o as { position: number }).position)).toEqual([1, 2]);
    await again.close();
  });

  it('entries are sealed: another key cannot read them', async () => {
    const dir = join(root, `j${++n}`);
    const j = await Journal.open(dir, newKey());
    await j.append(write(1));
    await j.close();
    const stranger = await Journal.open(dir, newKey());
    await expect(stranger.pending()).rejects.toThrowError(AuthenticationError);
    await stranger.close();
  });

  it('a record torn over older bytes ends its file; a damaged record before the last is an error', async () => {
    const key = newKey();
    const make = async () => {
      const dir = join(root, `j${++n}`);
      const j = await Journal.open(dir, key);
      for (let i = 1; i <= 3; i++) await j.append({ op: 'write', ino: 2, position: i, data: new Uint8Array(1000).fill(i), now: i });
      await j.close();
      return { dir, file: join(dir, readdirSync(dir).find((f) => f.startsWith('journal-'))!) };
    };
    // The last record's second half replaced by other bytes, its length intact: what a power loss leaves in a spare.
    const torn = await make();
    const bytes = readFileSync(torn.file);
    bytes.fill(0x5a, bytes.length - 500);
    writeFileSync(torn.file, bytes);
    const replayed = await Journal.open(torn.dir, key);
    expect((await replayed.pending()).map((o) => (o as { position: number }).position)).toEqual([1, 2]);
    await replayed.close();

    const damaged = await make();
    const middle = readFileSync(damaged.file);
    // Inside the second of three records: past the first (its length at byte 0) and the second's own head.
    middle[12 + middle.readUInt32LE(0) + 12 + 100] ^= 1;
    writeFileSync(damaged.file, middle);
    const refused = await Journal.open(damaged.dir, key);
    await expect(refused.pending()).rejects.toThrowError(AuthenticationError);
    await refused.close();
  });

  it('a record the disk could not take whole is not numbered: the records before it replay, and nothing after is lost', async () => {
    const dir = join(root, `j${++n}`);
    mkdirSync(dir);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
    expect(mounted.status, `mounting a 1 MiB tmpfs needs root: ${mounted.stderr}`).toBe(0);
    try {
      const key = newKey();
      const j = await Journal.open(dir, key);
      await j.append(write(1));
      const big: Op = { op: 'write', ino: 2, position: 0, data: new Uint8Array(2 * 2 ** 20), now: 2 };
      await expect(j.append(big)).rejects.toThrowError(JournalError);
      expect(j.lastSeq).toBe(1);
      await j.close();
      const again = await Journal.open(dir, key);
      expect(await again.pending()).toEqual([write(1)]);
      expect(again.lastSeq).toBe(1);
      await again.close();
    } finally {
      // Lazily: a journal left open by a failed assertion still holds a file there.
      spawnSync('umount', ['-l', dir]);
    }
  });
});
