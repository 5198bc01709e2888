import {
  copyFileSync,
  existsSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli.js';
import { BusyboxMissingError, buildRootfs, defaultRootfsDir } from '../../src/scheduler/index.js';
import { tempDir } from '../helpers/tmp.js';

const TMP = tempDir('rootfs');

/** A busybox of our own, so the test can change its mtime. */
function busyboxCopy(name: string): string {
  const path = join(TMP, name);
  copyFileSync('/bin/busybox', path);
  return path;
}

describe('buildRootfs', () => {
  it('builds a busybox rootfs with applet links, users and mount points', async () => {
    const dir = join(TMP, 'layout');
    expect(await buildRootfs(dir)).toEqual({ dir, built: true });
    expect(statSync(join(dir, 'bin', 'busybox')).mode & 0o777).toBe(0o755);
    // Applets at their usual paths, linked relatively so they resolve inside the rootfs.
    for (const applet of ['bin/sh', 'bin/ls', 'usr/bin/env', 'sbin/ifconfig']) {
      expect(realpathSync(join(dir, applet))).toBe(realpathSync(join(dir, 'bin', 'busybox')));
    }
    expect(readlinkSync(join(dir, 'usr', 'bin', 'env'))).toBe('../../bin/busybox');
    expect(readFileSync(join(dir, 'etc', 'passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(readFileSync(join(dir, 'etc', 'group'), 'utf8')).toMatch(/^root:x:0:/);
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'data']) expect(statSync(join(dir, d)).isDirectory()).toBe(true);
    expect(statSync(join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it('skips the build while busybox is unchanged, and rebuilds when it changes', async () => {
    const dir = join(TMP, 'stamp');
    const busybox = busyboxCopy('busybox-stamp');
    expect((await buildRootfs(dir, { busybox })).built).toBe(true);
    writeFileSync(join(dir, 'marker'), '');
    expect((await buildRootfs(dir, { busybox })).built).toBe(false);
    expect(existsSync(join(dir, 'marker'))).toBe(true);

    utimesSync(busybox, new Date(), new Date(Date.now() + 60_000));
    expect((await buildRootfs(dir, { busybox })).built).toBe(true);
    // Rebuilt from scratch, not patched over the old tree.
    expect(existsSync(join(dir, 'marker'))).toBe(false);
    expect(existsSync(join(dir, 'bin', 'sh'))).toBe(true);
  });

  it('says how to get busybox when it is missing', async () => {
    const err = await buildRootfs(join(TMP, 'none'), { busybox: join(TMP, 'no-busybox') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusyboxMissingError);
    expect((err as Error).message).toContain('busybox-static');
    expect(existsSync(join(TMP, 'none'))).toBe(false);
  });

  it('defaults to .cache/rootfs in the checkout, where setup builds it', () => {
    expect(defaultRootfsDir()).toBe(join(REPO, '.cache', 'rootfs'));
  });
});
