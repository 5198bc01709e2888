import { resolve } from 'node:path';
import type { VolumeFs } from '../src/volume/index.js';
import { fuseOps, type AdapterOptions } from './adapter.js';
import { CairnFuse } from './binding.js';
import { MountError } from './errors.js';
import { prepareMountPoint } from './mount-point.js';
import { ReadDrops } from './read-drops.js';

export interface MountOptions {
  /** Mount over a non-empty directory, hiding its files until unmount. */
  force?: boolean;
  /** Refuse every change with EROFS (also implied by a read-only volume). */
  readOnly?: boolean;
  /** libfuse's request trace on stderr. */
  debug?: boolean;
  /** Where unexpected volume failures are reported; JSON lines on stderr by default. */
  log?: AdapterOptions['log'];
}

export interface Mounted {
  /** The mount point, absolute. */
  readonly dir: string;
  readonly readOnly: boolean;
  /**
   * Unmounts; flushes nothing (flush the volume first). A busy mount point is
   * retried briefly, then detached lazily. Safe to call more than once.
   */
  unmount(): Promise<void>;
}

/**
 * Mounts `fs` at `dir`, served by this process's JS thread until unmount().
 * This process must not touch `dir` with synchronous fs calls while mounted.
 */
export async function mountVolume(fs: VolumeFs, dir: string, options: MountOptions = {}): Promise<Mounted> {
  const mountPoint = resolve(dir);
  const force = options.force === true;
  const readOnly = options.readOnly === true || fs.readOnly;
  await prepareMountPoint(mountPoint, force);

  const drops = new ReadDrops(mountPoint);
  const fuse = new CairnFuse(mountPoint, fuseOps(fs, { readOnly, log: options.log, drops }), {
    readOnly,
    nonEmpty: force,
    debug: options.debug === true,
  });
  await new Promise<void>((done, fail) => {
    fuse.mount((err) => {
      if (err === null || err === undefined) done();
      else {
        fail(
          new MountError(
            `could not mount at ${mountPoint}: ${err.message} (libfuse prints its reason on stderr; ` +
              'check that /dev/fuse exists and fusermount is installed)',
            { cause: err },
          ),
        );
      }
    });
  });

  let unmounting: Promise<void> | undefined;
  return {
    dir: mountPoint,
    readOnly,
    unmount() {
      unmounting ??= new Promise<void>((done, fail) => {
        fuse.unmount((err) => (err ? fail(err) : done()));
      }).catch((err: unknown) => {
        unmounting = undefined; // a later call may try again
        throw err;
      });
      return unmounting;
    },
  };
}
