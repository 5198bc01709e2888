// The slice of fuse-native 2.2.6 (CommonJS, untyped) that fuse/ uses. The
// callback shapes follow its index.js, which is what runs; its README differs
// in places (it documents fsync as (path, fd, datasync, cb); the code calls
// (path, datasync, fd, cb)).
declare module 'fuse-native' {
  namespace Fuse {
    /** Every callback's first argument: 0 or a negative errno; read/write: a byte count. */
    type Reply = (code: number) => void;
    type ReplyWith<T> = (code: number, value?: T) => void;

    interface Stat {
      mode: number;
      uid: number;
      gid: number;
      size: number;
      nlink: number;
      ino: number;
      blocks: number;
      blksize: number;
      atime: Date;
      mtime: Date;
      ctime: Date;
    }

    interface StatFs {
      bsize: number;
      frsize: number;
      blocks: number;
      bfree: number;
      bavail: number;
      files: number;
      ffree: number;
      favail: number;
      namemax: number;
    }

    interface Ops {
      access(path: string, mode: number, cb: Reply): void;
      statfs(path: string, cb: ReplyWith<StatFs>): void;
      getattr(path: string, cb: ReplyWith<Stat>): void;
      fgetattr(path: string, fd: number, cb: ReplyWith<Stat>): void;
      flush(path: string, fd: number, cb: Reply): void;
      fsync(path: string, datasync: number, fd: number, cb: Reply): void;
      fsyncdir(path: string, datasync: number, fd: number, cb: Reply): void;
      readdir(path: string, cb: ReplyWith<string[]>): void;
      truncate(path: string, size: number, cb: Reply): void;
      ftruncate(path: string, fd: number, size: number, cb: Reply): void;
      /** Times in milliseconds since the epoch. */
      utimens(path: string, atime: number, mtime: number, cb: Reply): void;
      readlink(path: string, cb: ReplyWith<string>): void;
      chown(path: string, uid: number, gid: number, cb: Reply): void;
      chmod(path: string, mode: number, cb: Reply): void;
      /** `value` is borrowed: the binding detaches it once cb is called. */
      setxattr(path: string, name: string, value: Buffer, position: number, flags: number, cb: Reply): void;
      getxattr(path: string, name: string, position: number, cb: ReplyWith<Buffer>): void;
      listxattr(path: string, cb: ReplyWith<string[]>): void;
      removexattr(path: string, name: string, cb: Reply): void;
      open(path: string, flags: number, cb: ReplyWith<number>): void;
      /** `buf` is the kernel's buffer, detached once cb is called; cb gets the bytes read. */
      read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Reply): void;
      /** `buf` is the kernel's buffer, detached once cb is called; cb gets the bytes written. */
      write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Reply): void;
      release(path: string, fd: number, cb: Reply): void;
      /** fuse-native drops the open flags of create. */
      create(path: string, mode: number, cb: ReplyWith<number>): void;
      unlink(path: string, cb: Reply): void;
      rename(src: string, dest: string, cb: Reply): void;
      link(existing: string, path: string, cb: Reply): void;
      symlink(target: string, path: string, cb: Reply): void;
      mkdir(path: string, mode: number, cb: Reply): void;
      rmdir(path: string, cb: Reply): void;
    }

    interface Options {
      /** Per-operation timeout in ms (fuse-native answers ETIMEDOUT); false for none. */
      timeout?: number | false;
      debug?: boolean;
      fsname?: string;
      subtype?: string;
      maxRead?: number;
      /** Seconds. */
      attrTimeout?: number;
      /** Seconds. */
      entryTimeout?: number;
    }

    /** Answers the kernel: a result code, then whatever the operation returns. */
    type Signal = (code: number, ...values: unknown[]) => void;

    /**
     * What the native side calls for a request: the fuse thread's record
     * (a Buffer over fuse-native's fuse_thread_locals_t), the opcode, then
     * the operation's arguments.
     */
    type Handler = (locals: Buffer, opCode: number, ...args: unknown[]) => void;
  }

  class Fuse {
    constructor(mnt: string, ops: Partial<Fuse.Ops>, opts?: Fuse.Options);
    /** The mount point, resolved to an absolute path. */
    readonly mnt: string;
    protected ops: Partial<Fuse.Ops>;
    /** The native fuse_thread_t, allocated at mount. */
    protected _thread: Buffer | null;

    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;

    /** One handler per opcode (fuse-native's numbering); built once, in the constructor. */
    protected _makeHandlerArray(): Fuse.Handler[];
    /** The "-o…" argument handed to libfuse, built from the options. */
    protected _fuseOptions(): string;
    /** Unmounts (fusermount -uz) and releases the native thread; Nanoresource calls it once. */
    protected _close(cb: (err: Error | null) => void): void;
    protected _op_getattr(signal: Fuse.Signal, path: string): void;
    protected _op_fgetattr(signal: Fuse.Signal, path: string, fd: number): void;
    protected _op_getxattr(signal: Fuse.Signal, path: string, name: string, valueBuf: Buffer, position: number): void;
    protected _op_listxattr(signal: Fuse.Signal, path: string, listBuf: Buffer): void;

    static readonly ERANGE: number;
  }

  export = Fuse;
}
