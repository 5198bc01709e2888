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

/**
 * [u32 length of the JSON header][JSON header][raw bytes]: a write's data
 * (or an xattr value) travels as raw bytes, not base64 inside JSON, since
 * every byte written to a volume passes through here.
 */
export function encodeOp(op: Op): Uint8Array[] {
  const raw = 'data' in op ? op.data : 'value' in op ? op.value : new Uint8Array(0);
  const { data: _d, value: _v, ...header } = op as Op & { data?: unknown; value?: unknown };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  // In parts, so a write's data is never copied just to be framed.
  return [length, json, raw];
}

export function decodeOp(bytes: Uint8Array): Op {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
  const header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, length).toString()) as Record<string, unknown>;
  const raw = bytes.slice(4 + length);
  if (header.op === 'write') header.data = raw;
  if (header.op === 'setxattr') header.value = raw;
  return header as unknown as Op;
}
