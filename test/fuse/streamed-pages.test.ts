import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DROP_EVERY_BYTES, StreamedPages } from '../../fuse/streamed-pages.js';

const KiB128 = 128 * 1024;

describe('dropping the page cache of files written as a stream (the logic; the real mount is in test/volume/mount.test.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-streamed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, name), 'x');
  const drops: number[] = [];
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  beforeEach(() => {
    drops.length = 0;
  });

  /** `bytes` written to `path` as 128 KiB writes from `from` on. */
  const stream = (pages: StreamedPages, path: string, from: number, bytes: number) => {
    for (let at = from; at < from + bytes; at += KiB128) pages.wrote(path, at, KiB128);
  };

  it('drops once per 32 MiB written in order, through the file opened under the mount point', async () => {
    const pages = new StreamedPages(dir, (fd) => drops.push(fd));
    stream(pages, '/a', 0, DROP_EVERY_BYTES - KiB128);
    await settle();
    expect(drops).toHaveLength(0);
    stream(pages, '/a', DROP_EVERY_BYTES - KiB128, KiB128);
    await settle();
    expect(drops).toHaveLength(1);
    // While one drop is under way the stream goes on counting; the next comes after it.
    stream(pages, '/a', DROP_EVERY_BYTES, 2 * DROP_EVERY_BYTES);
    await settle();
    expect(drops).toHaveLength(2);
    pages.wrote('/a', 3 * DROP_EVERY_BYTES, KiB128);
    await settle();
    expect(drops).toHaveLength(3);
  });

  it('writes out of order never drop, however many', async () => {
    const pages = new StreamedPages(dir, (fd) => drops.push(fd));
    for (let i = 0; i < 2048; i++) pages.wrote('/b', ((i * 7919) % 2048) * KiB128, KiB128);
    await settle();
    expect(drops).toHaveLength(0);
  });

  it('a file gone meanwhile is skipped quietly; close waits for drops under way and stops the rest', async () => {
    const pages = new StreamedPages(dir, (fd) => drops.push(fd));
    stream(pages, '/gone', 0, DROP_EVERY_BYTES);
    await settle();
    expect(drops).toHaveLength(0);
    stream(pages, '/c', 0, DROP_EVERY_BYTES);
    await pages.close();
    expect(drops).toHaveLength(1);
    stream(pages, '/c', DROP_EVERY_BYTES, DROP_EVERY_BYTES);
    await settle();
    expect(drops).toHaveLength(1);
  });

  it('follows 16 files at once: a stream interrupted by writes to 16 others starts counting again', async () => {
    const pages = new StreamedPages(dir, (fd) => drops.push(fd));
    stream(pages, '/a', 0, DROP_EVERY_BYTES - KiB128);
    for (let i = 0; i < 16; i++) pages.wrote(`/other-${i}`, 0, KiB128);
    stream(pages, '/a', DROP_EVERY_BYTES - KiB128, KiB128);
    await settle();
    expect(drops).toHaveLength(0);
  });
});
