// The root filesystem containers run on: Debian's static busybox, a symlink
// for each of its applets, and the few files and mount points programs expect.
// Plain Node with built-ins only, because setup runs it before node_modules
// exists; src/scheduler/rootfs.ts calls the same function.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

export const DEFAULT_BUSYBOX = '/bin/busybox';

// Bump when the layout below changes, so existing rootfs directories are rebuilt.
const LAYOUT = 1;
const STAMP = '.cairn-rootfs';

const FILES = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  // Containers get a network namespace with only loopback.
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost\n',
};

// Mount points: the OCI config mounts over these, and the rootfs is read-only,
// so they must exist beforehand. /data is where volumes usually go.
const DIRS = ['proc', 'sys', 'dev', 'tmp', 'root', 'data'];

/** What decides whether an existing rootfs is current: our layout and the busybox binary. */
function stampOf(busybox) {
  const { size, mtimeMs } = statSync(busybox);
  return JSON.stringify({ layout: LAYOUT, busybox, size, mtimeMs });
}

function populate(dir, busybox) {
  mkdirSync(join(dir, 'bin'), { recursive: true, mode: 0o755 });
  const binary = join(dir, 'bin', 'busybox');
  copyFileSync(busybox, binary);
  chmodSync(binary, 0o755);
  // --list-full gives each applet's conventional path (bin/sh, usr/bin/awk, ...).
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n');
  for (const applet of applets) {
    // Skip blanks and top-level names (linuxrc): only applets under a bin dir.
    if (!applet.includes('/') || applet === 'bin/busybox') continue;
    const link = join(dir, applet);
    mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
    // Relative, so the links also resolve when the rootfs is inspected from the host.
    symlinkSync(relative(dirname(link), binary), link);
  }
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, path), text, { mode: 0o644 });
  }
  for (const d of DIRS) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
}

/**
 * Builds the rootfs at `dir` unless it is already built from the same busybox
 * binary (same path, size and mtime) and layout. Returns whether it built.
 */
export function buildRootfs(dir, { busybox = DEFAULT_BUSYBOX } = {}) {
  const stamp = stampOf(busybox);
  const stampFile = join(dir, STAMP);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { dir, built: false };
  // Built beside the target and renamed into place, so a reader never sees a
  // half-built rootfs, and concurrent builders do not write into each other's.
  const temp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    populate(temp, busybox);
    writeFileSync(join(temp, STAMP), stamp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(temp, dir);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    // Another builder won the race with the same inputs: theirs is as good as ours.
    if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { dir, built: false };
    throw err;
  }
  return { dir, built: true };
}
