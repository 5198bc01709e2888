import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CairnEnv, sh } from '../helpers/cairn-env.js';

const here = join(import.meta.dirname, 'posix_checks.py');

describe('a mounted volume (real FUSE, local backend)', () => {
  const env = new CairnEnv('mount');
  env.init();
  for (const name of ['posix', 'apps', 'sync', 'crash', 'writer', 'secret']) {
    const r = env.run(['volume', 'create', name, '--block-size', '256KiB']);
    if (r.code !== 0) throw new Error(r.stderr);
  }

  it('behaves as POSIX says, errno included', async () => {
    const dir = env.dir('mnt-posix');
    await env.mount('posix', dir);
    const r = sh(`python3 ${here} ${dir}`);
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({
      mkdir: 'ok',
      mkdir_exists: 'EEXIST',
      mkdir_no_parent: 'ENOENT',
      name_too_long: 'ENAMETOOLONG',
      rmdir_not_empty: 'ENOTEMPTY',
      rmdir_file: 'ENOTDIR',
      unlink_dir: 'EISDIR',
      open_dir_for_write: 'EISDIR',
      mkdir_under_file: 'ENOTDIR',
      stat_missing: 'ENOENT',
      excl_create_exists: 'EEXIST',
      rename_replace: 'ok',
      rename_result: 'new contents',
      rename_dir_onto_nonempty: 'ENOTEMPTY',
      rename_file_onto_dir: 'EISDIR',
      rename_dir_into_itself: 'EINVAL',
      link: 'ok',
      nlink: 2,
      read_unlinked_open: 'new contents',
      stat_after_unlink: 'ENOENT',
      symlink: 'ok',
      readlink: 'a/f',
      read_through_symlink: 'hello',
      readlink_not_link: 'EINVAL',
      truncated: '0123',
      extended: [48, 49, 50, 51, 0, 0, 0, 0],
      appended: '\u0000\u0000more',
      sparse_size: 5 * 2 ** 30 + 3,
      sparse_far: 'far',
      sparse_hole: [0, 0, 0, 0],
      mode: '0o600',
      owner: [1234, 5678],
      mtime: 1_000_000,
      setxattr: 'ok',
      getxattr: 'value',
      listxattr: ['user.note'],
      getxattr_missing: 'ENODATA',
      removexattr: 'ok',
      getxattr_removed: 'ENODATA',
      statfs_ok: true,
      fsync_file: 'ok',
    });
  });

  it('sqlite, git and tar work in it, and after unmount and remount', async () => {
    const dir = env.dir('mnt-apps');
    let m = await env.mount('apps', dir);
    const db = join(dir, 'app.db');
    const rows = sh(
      `sqlite3 ${db} "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<10000) INSERT INTO t(v) SELECT 'row ' || x FROM c; SELECT count(*) FROM t; PRAGMA integrity_check;"`,
    );
    expect(rows.stderr).toBe('');
    expect(rows.stdout.trim().split('\n')).toEqual(['10000', 'ok']);

    const repo = join(dir, 'repo');
    const git = sh(
      `set -e; git init -q ${repo}; cd ${repo}; git config user.email t@t; git config user.name t; ` +
        'echo one > a.txt; git add a.txt; git commit -qm first; echo two >> a.txt; git commit -qam second; git log --oneline | wc -l; git fsck --strict 2>&1',
    );
    expect(git.code, git.stderr).toBe(0);
    expect(git.stdout.trim().split('\n')[0]).toBe('2');

    const copy = sh(`mkdir ${dir}/tree && tar -C ${join(import.meta.dirname, '../../src')} -cf - . | tar -C ${dir}/tree -xf -`);
    expect(copy.code, copy.stderr).toBe(0);

    expect(await m.stop()).toBe(0);
    m = await env.mount('apps', dir);
    const again = sh(`sqlite3 ${db} "SELECT count(*) FROM t; PRAGMA integrity_check;"`);
    expect(again.stdout.trim().split('\n')).toEqual(['10000', 'ok']);
    const log = sh(`cd ${repo} && git log --format=%s && git fsck --strict`);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout.trim().split('\n')).toEqual(['second', 'first']);
    const diff = sh(`diff -r ${join(import.meta.dirname, '../../src')} ${dir}/tree`);
    expect(diff.stdout + diff.stderr).toBe('');
    expect(diff.code).toBe(0);
    await m.stop();
  });

  it('promise 2: after fsync, the volume mounts from a fresh $CAIRN_HOME holding only the keyring', async () => {
    const dir = env.dir('mnt-sync');
    const m = await env.mount('sync', dir);
    const r = sh(
      `python3 -c "import os; fd=os.open('${dir}/kept.txt', os.O_WRONLY|os.O_CREAT, 0o644); os.write(fd, b'synced bytes'); os.fsync(fd); os.mkdir('${dir}/named-dir'); dfd=os.open('${dir}', os.O_RDONLY); os.fsync(dfd)"`,
    );
    expect(r.code, r.stderr).toBe(0);
    await m.kill();
    // The machine is gone: only the keyring survives, copied to a new home.
    const oldHome = env.home;
    const keyring = readFileSync(join(oldHome, 'keyring'));
    env.home = join(env.root, 'fresh-home');
    env.dir('fresh-home');
    writeFileSync(join(env.home, 'keyring'), keyring, { mode: 0o600 });
    sh(`rm -rf ${oldHome}`);
    try {
      const dir2 = env.dir('mnt-sync-2');
      const m2 = await env.mount('sync', dir2, ['--read-only']);
      expect(readFileSync(join(dir2, 'kept.txt'), 'utf8')).toBe('synced bytes');
      expect(statSync(join(dir2, 'named-dir')).isDirectory()).toBe(true);
      await m2.stop();
    } finally {
      env.home = oldHome;
    }
  });
});

describe('crashes, writers and what the stores see', () => {
  const env = new CairnEnv('promises');
  env.init();
  for (const name of ['crash', 'writer', 'secret']) {
    const r = env.run(['volume', 'create', name]);
    if (r.code !== 0) throw new Error(r.stderr);
  }

  it('promise 3: writes not yet fsynced survive a kill -9 of the mount and come back at the next mount', async () => {
    const dir = env.dir('mnt-crash');
    const m = await env.mount('crash', dir);
    const pid = m.child.pid;
    // Written and handed to the kernel, never fsynced or closed: then the mount dies.
    const r = sh(
      `python3 -c "import os, signal; f=open('${dir}/unsynced.txt','w'); f.write('not fsynced\\n'*1000); f.flush(); os.kill(${pid}, signal.SIGKILL)"`,
    );
    expect(r.code, r.stderr).toBe(0);
    await m.kill();
    const again = await env.mount('crash', dir);
    expect(readFileSync(join(dir, 'unsynced.txt'), 'utf8')).toBe('not fsynced\n'.repeat(1000));
    await again.stop();
  });

  it('promise 4: a second read-write mount is refused; after a takeover the old writer cannot commit', async () => {
    const a = await env.mount('writer', env.dir('mnt-a'));
    writeFileSync(join(a.dir, 'before.txt'), 'from A');
    const machineB = env.otherMachine('home-b');
    const refused = env.run(['mount', 'writer', env.dir('mnt-b')], machineB);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/mounted read-write by .*--force-takeover/);
    const ro = await env.mount('writer', env.dir('mnt-ro'), ['--read-only']);
    expect(readFileSync(join(ro.dir, 'before.txt'), 'utf8')).toBe('from A');
    expect(sh(`touch ${ro.dir}/x`).stderr).toMatch(/Read-only file system/);
    await ro.stop();

    const b = await env.mount('writer', env.dir('mnt-b'), ['--force-takeover'], machineB);
    const late = sh(`python3 -c "import os; fd=os.open('${a.dir}/late.txt', os.O_WRONLY|os.O_CREAT); os.write(fd, b'late'); os.fsync(fd)"`);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toMatch(/Input\/output error|Read-only file system/);
    writeFileSync(join(b.dir, 'after.txt'), 'from B');
    await a.stop();
    expect((await b.stop())).toBe(0);
    const check = await env.mount('writer', env.dir('mnt-check'), ['--read-only']);
    expect(readdirSync(check.dir).sort()).toEqual(['after.txt', 'before.txt']);
    await check.stop();
  });

  it('promise 1: a marker in a file and the file name never reach the stores', async () => {
    const m = await env.mount('secret', env.dir('mnt-secret'));
    const marker = 'CAIRN-SECRET-MARKER-b41d';
    writeFileSync(join(m.dir, 'quarterly-secret-plans.txt'), `${marker}\n`.repeat(5000));
    sh(`mkdir ${m.dir}/confidential-folder && echo ${marker} > ${m.dir}/confidential-folder/note`);
    await m.stop();
    const files = readdirSync(env.stores, { recursive: true })
      .map((f) => join(env.stores, String(f)))
      .filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(6);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const needle of [marker, 'quarterly-secret-plans', 'confidential-folder']) {
        expect(bytes.includes(needle), `${f} contains ${needle}`).toBe(false);
        expect(bytes.includes(Buffer.from(needle, 'utf16le')), `${f} contains ${needle}`).toBe(false);
      }
    }
    expect(existsSync(env.stores)).toBe(true);
  });
});
