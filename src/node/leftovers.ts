/**
 * What a node agent killed with -9 leaves behind in its state directory, and
 * the next start clears: containers still running under its runc root (their
 * volumes are dead mounts by now, and their instances were moved elsewhere
 * when the node was declared lost), and dead FUSE mounts under mounts/.
 */
import { execFile } from 'node:child_process';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isMountPoint, unmountDir } from '../../fuse/mount-point.js';
import { type Runc, runcCommand } from '../scheduler/runc.js';

const run = promisify(execFile);

export async function runcContainers(runc: Runc): Promise<{ id: string; bundle: string }[]> {
  try {
    const { stdout } = await run(runc.binary, ['--root', runc.root, 'list', '--format', 'json'], { timeout: 10_000 });
    return (JSON.parse(stdout) as { id: string; bundle: string }[] | null) ?? [];
  } catch {
    // No runc root yet: nothing ever ran here.
    return [];
  }
}

/** The volume mount points of a previous run: mounts/<instance>/<n>, mounted or not. */
async function mountPoints(mountRoot: string): Promise<string[]> {
  const points: string[] = [];
  for (const instance of await readdir(mountRoot).catch(() => [])) {
    for (const n of await readdir(join(mountRoot, instance)).catch(() => [])) points.push(join(mountRoot, instance, n));
  }
  return points;
}

/** Clears leftovers of a previous run; returns what it found, for the log. */
export async function clearLeftovers(runc: Runc, mountRoot: string): Promise<{ containers: string[]; mounts: string[] }> {
  const containers = await runcContainers(runc);
  for (const { id, bundle } of containers) {
    await runcCommand(runc, ['delete', '--force', id]);
    // The runner's bundle directory is named for the container; anything else is not ours to remove.
    if (basename(bundle) === id) await rm(bundle, { recursive: true, force: true });
  }
  const mounts: string[] = [];
  for (const dir of await mountPoints(mountRoot)) {
    if (await isMountPoint(dir)) {
      await unmountDir(dir);
      mounts.push(dir);
    }
    // rmdir, never rm -r: a mount point that is somehow still mounted must keep its files.
    await rmdir(dir).catch(() => undefined);
    await rmdir(dirname(dir)).catch(() => undefined);
  }
  return { containers: containers.map((c) => c.id), mounts };
}
