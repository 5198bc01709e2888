/**
 * fuse-native 2.2.6, adjusted where it falls short for a volume:
 * - mount options it has no flags for (big writes above all);
 * - fgetattr, which it answers with getattr(path) instead of ops.fgetattr;
 * - getxattr/listxattr into a buffer smaller than the answer, where it
 *   returns the full length and libfuse then reads past its buffer: ERANGE;
 * - unmounting, which it only does lazily (fusermount -uz);
 * - open flags it cannot answer with: direct I/O for write-only opens;
 * - utimens, whose mtime it replaces with the atime
 *   (these two through request-record.ts).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import Fuse from 'fuse-native';
import { markDirectWrites, utimensMtime } from './request-record.js';
import { IO_SIZE } from './io-size.js';
import { unmountDir } from './mount-point.js';

// The addon fuse-native loaded (require caches it, so this is the same
// instance), for the one native call _close needs after our own unmount.
const fuseNativeEntry = createRequire(import.meta.url).resolve('fuse-native');
const nativeBinding = createRequire(fuseNativeEntry)('node-gyp-build')(dirname(fuseNativeEntry)) as {
  fuse_native_unmount(mnt: string, thread: Buffer | null): void;
};

export interface BindingOptions {
  readOnly: boolean;
  /** Mount over a non-empty directory (libfuse refuses one otherwise). */
  nonEmpty: boolean;
  /** libfuse's request trace on stderr: operations, sizes and names, no data. */
  debug: boolean;
}

/**
 * Kernel caches of attributes and names, in seconds. The mount is the volume's
 * only writer and every change passes through this kernel, which updates its
 * cache as it goes, so caching is safe; 1 s still bounds how stale a
 * read-only mount can look after another machine commits, while sparing most
 * of the repeated lookups that would each cross into JavaScript.
 */
const CACHE_TIMEOUT_S = 1;

/** fuse-native 2.2.6's opcodes (fuse-native.c), the index of each handler. */
const OP_UTIMENS = 12;
const OP_OPEN = 21;
const OP_CREATE = 27;

export class CairnFuse extends Fuse {
  private readonly extraOptions: string[];

  constructor(dir: string, ops: Fuse.Ops, options: BindingOptions) {
    super(dir, ops, {
      // The volume owns its timeouts. fuse-native's default (15 s) would answer
      // ETIMEDOUT to an fsync still uploading, and the application would take a
      // commit that later lands for a failure.
      timeout: false,
      debug: options.debug,
      fsname: 'cairn',
      subtype: 'cairn',
      maxRead: IO_SIZE,
      attrTimeout: CACHE_TIMEOUT_S,
      entryTimeout: CACHE_TIMEOUT_S,
    });
    this.extraOptions = [
      'big_writes',
      `max_write=${IO_SIZE}`,
      // st_ino from the volume, so hard links share an inode number (tar,
      // rsync -H and cp -a find them by it). The binding carries 32 bits.
      'use_ino',
      options.readOnly ? 'ro' : 'rw',
      ...(options.nonEmpty ? ['nonempty'] : []),
    ];
  }

  protected override _makeHandlerArray(): Fuse.Handler[] {
    const handlers = super._makeHandlerArray();
    // Marked before the volume answers: the kernel reads the flag only from a successful reply.
    for (const op of [OP_OPEN, OP_CREATE]) {
      const handle = handlers[op];
      handlers[op] = (locals, opCode, ...args) => {
        markDirectWrites(locals, args[0] as string);
        handle(locals, opCode, ...args);
      };
    }
    // Arguments: path, then atime and mtime as low and high 32-bit halves (ms).
    const utimens = handlers[OP_UTIMENS];
    handlers[OP_UTIMENS] = (locals, opCode, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh) => {
      const mtime = utimensMtime(locals, path as string);
      if (mtime === undefined) utimens(locals, opCode, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh);
      else utimens(locals, opCode, path, atimeLow, atimeHigh, mtime % 2 ** 32, Math.floor(mtime / 2 ** 32));
    };
    return handlers;
  }

  protected override _fuseOptions(): string {
    const base = super._fuseOptions();
    const extra = this.extraOptions.join(',');
    return base ? `${base},${extra}` : `-o${extra}`;
  }

  protected override _op_fgetattr(signal: Fuse.Signal, path: string, fd: number): void {
    // The base class's getattr handler encodes the reply; hand it a view of
    // the ops whose getattr asks by handle.
    const byHandle = { ops: { getattr: (p: string, cb: Fuse.ReplyWith<Fuse.Stat>) => this.ops.fgetattr!(p, fd, cb) } };
    super._op_getattr.call(byHandle as unknown as Fuse, signal, path);
  }

  protected override _op_getxattr(
    signal: Fuse.Signal,
    path: string,
    name: string,
    valueBuf: Buffer,
    position: number,
  ): void {
    this.ops.getxattr!(path, name, position, (code, value) => {
      signal(code === 0 ? fitInto(valueBuf, value!) : code, valueBuf.buffer);
    });
  }

  protected override _op_listxattr(signal: Fuse.Signal, path: string, listBuf: Buffer): void {
    this.ops.listxattr!(path, (code, names) => {
      const packed = (): Buffer => Buffer.from(names!.map((n) => `${n}\0`).join('')); // NUL-terminated names
      signal(code === 0 ? fitInto(listBuf, packed()) : code, listBuf.buffer);
    });
  }

  protected override _close(cb: (err: Error | null) => void): void {
    unmountDir(this.mnt).then(
      () => {
        nativeBinding.fuse_native_unmount(this.mnt, this._thread);
        cb(null);
      },
      (err: Error) => cb(err),
    );
  }
}

// The xattr calls' size protocol: an empty buffer asks for the length, a
// short one gets ERANGE, otherwise the bytes are copied in.
function fitInto(target: Buffer, answer: Buffer): number {
  if (target.length === 0) return answer.length;
  if (answer.length > target.length) return Fuse.ERANGE;
  answer.copy(target);
  return answer.length;
}
