/**
 * Every change to a volume's filesystem as a plain record. Live calls and
 * crash recovery go through the same `apply`, so replaying the write-back
 * journal after a kill -9 rebuilds exactly the state the dead mount had.
 */
export type Op = { now: number } & (
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'create'; path: string; mode: number }
  | { op: 'rmdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'link'; existing: string; path: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'write'; ino: number; position: number; data: Uint8Array }
  | { op: 'truncate'; ino: number; size: number }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'chown'; path: string; uid: number; gid: number }
  | { op: 'utimens'; path: string; atimeMs: number; mtimeMs: number }
  | { op: 'setxattr'; path: string; name: string; value: Uint8Array; flags: number }
  | { op: 'removexattr'; path: string; name: string }
  /** The last handle of an unlinked file closed: its inode and blocks go. */
  | { op: 'forget'; ino: number }
);

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');

export function encodeOp(op: Op): Uint8Array {
  const plain = { ...op } as Record<string, unknown>;
  if ('data' in op) plain.data = b64(op.data);
  if ('value' in op) plain.value = b64(op.value);
  return new TextEncoder().encode(JSON.stringify(plain));
}

export function decodeOp(bytes: Uint8Array): Op {
  const plain = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  if (typeof plain.data === 'string') plain.data = new Uint8Array(Buffer.from(plain.data, 'base64'));
  if (typeof plain.value === 'string') plain.value = new Uint8Array(Buffer.from(plain.value, 'base64'));
  return plain as unknown as Op;
}
