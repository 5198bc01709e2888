/**
 * What a node agent killed with -9 leaves behind in its state directory, and
 * the next start clears: containers still running under its runc root (their
 * volumes are dead mounts by now, and their instances were moved elsewhere
 * when the node was declared lost), and dead FUSE mounts under mounts/.
 *
 * A dead mount's FUSE connection may still be open: libfuse's /dev/fuse
 * descriptor is not close-on-exec, so the `runc run` processes the agent
 * started hold it. Then nothing answers the container's requests on it and
 * they wait forever, even through SIGKILL (a process exits only after its
 * files are flushed). Aborting the connection fails those requests, so the
 * containers can die and be deleted.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
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

/** The FUSE connection numbers (/sys/fs/fuse/connections/N) of the mounts at `points`. */
async function fuseConnections(points: readonly string[]): Promise<number[]> {
  const wanted = new Set(points);
  const out: number[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    // id parent major:minor root mountpoint options... - fstype source superoptions; mount points escape space as \040.
    const [, , device, , point] = line.split(' ');
    const fstype = line.split(' - ')[1]?.split(' ')[0] ?? '';
    const path = point?.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (path && wanted.has(path) && /^fuse(\.|$)/.test(fstype) && device.startsWith('0:')) out.push(Number(device.slice(2)));
  }
  return out;
}

/** Clears leftovers of a previous run; returns what it found, for the log. */
export async function clearLeftovers(
  runc: Runc,
  mountRoot: string,
): Promise<{ containers: string[]; mounts: string[]; abortedConnections: number[] }> {
  const abortedConnections = await fuseConnections(await mountPoints(mountRoot));
  for (const n of abortedConnections) {
    await writeFile(`/sys/fs/fuse/connections/${n}/abort`, '1').catch(() => undefined);
  }
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
  return { containers: containers.map((c) => c.id), mounts, abortedConnections };
}
