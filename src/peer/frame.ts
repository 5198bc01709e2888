/**
 * The peer wire format, version 1 (docs/FORMAT.md, "Peer frames"): every
 * message is one frame on the Noise stream.
 *
 *   u32 BE  length of the rest (header + meta + body)
 *   u8      version (1)
 *   u8      type: an Op for requests, OK or ERROR for responses
 *   u32 BE  request id (a response carries its request's)
 *   u32 BE  meta length
 *   …       meta: a UTF-8 JSON object
 *   …       body: raw bytes (a shard, a head body), possibly empty
 */
import { CairnError } from '../errors/index.js';

export const FRAME_VERSION = 1;
/** The largest frame either side accepts: a 16 MiB block's shard with room to spare. */
export const MAX_FRAME_BYTES = 17 * 2 ** 20;
/** Meta is a few fields; anything bigger is hostile. */
export const MAX_META_BYTES = 64 * 1024;
const HEADER = 4 + 1 + 1 + 4 + 4;

export enum Op {
  Put = 1,
  Get = 2,
  Has = 3,
  Delete = 4,
  List = 5,
  Stat = 6,
  PutHead = 7,
  GetHead = 8,
  PutLease = 9,
  GetLease = 10,
  Scrub = 11,
  Audit = 12,
  DeleteRecords = 13,
}
export const OK = 0x80;
export const ERROR = 0x81;

export type Meta = Record<string, unknown>;

export interface Frame {
  type: number;
  id: number;
  meta: Meta;
  body: Uint8Array;
}

/** The other side broke the format: the connection is closed, the peer keeps serving others. */
export class FrameError extends CairnError {
  constructor(message: string) {
    super('peer.bad-frame', message);
  }
}

const EMPTY = new Uint8Array(0);

/** Header and meta in one buffer; the body goes out as its own write, never copied. */
export function encodeFrame(type: number, id: number, meta: Meta, body: Uint8Array = EMPTY): [Uint8Array, Uint8Array] {
  const json = Buffer.from(JSON.stringify(meta));
  const length = HEADER - 4 + json.length + body.length;
  if (json.length > MAX_META_BYTES || length > MAX_FRAME_BYTES) {
    throw new FrameError(`a frame of ${length} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
  }
  const head = Buffer.allocUnsafe(HEADER + json.length);
  head.writeUInt32BE(length, 0);
  head.writeUInt8(FRAME_VERSION, 4);
  head.writeUInt8(type, 5);
  head.writeUInt32BE(id, 6);
  head.writeUInt32BE(json.length, 10);
  json.copy(head, HEADER);
  return [head, body];
}

/**
 * The Noise stream carries messages of at most 2^24 - 1 bytes (a 24-bit
 * length), less than the largest frame: bodies go out in pieces this size,
 * which the reader joins again by the frame's length.
 */
const WRITE_PIECE = 4 * 2 ** 20;

/** Writes a frame; false when the stream's buffer is full (wait for drain before writing more). */
export function writeFrame(socket: { write(bytes: Uint8Array): boolean }, [head, body]: [Uint8Array, Uint8Array]): boolean {
  let flushed = socket.write(head);
  for (let at = 0; at < body.length; at += WRITE_PIECE) flushed = socket.write(body.subarray(at, at + WRITE_PIECE));
  return flushed;
}

/**
 * Cuts a byte stream into frames. It never buffers more than one frame's
 * worth, and throws FrameError at the first byte that breaks the format,
 * before reading a frame that claims to be too big. A body that arrived in one
 * chunk (senders write it as its own stream message) is taken without a copy.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  push(chunk: Uint8Array): Frame[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < 4) return frames;
      const length = this.#peekLength();
      if (length < HEADER - 4 || length > MAX_FRAME_BYTES) {
        throw new FrameError(`frame length ${length} is outside ${HEADER - 4}..${MAX_FRAME_BYTES}`);
      }
      if (this.#buffered < 4 + length) return frames;
      const header = this.#take(HEADER);
      const version = header.readUInt8(4);
      if (version !== FRAME_VERSION) throw new FrameError(`frame version ${version}; this peer speaks ${FRAME_VERSION}`);
      const metaLength = header.readUInt32BE(10);
      if (metaLength > MAX_META_BYTES || HEADER + metaLength > 4 + length) {
        throw new FrameError(`meta length ${metaLength} does not fit the frame`);
      }
      const meta = parseMeta(this.#take(metaLength));
      const body = ownBody(this.#take(4 + length - HEADER - metaLength));
      frames.push({ type: header.readUInt8(5), id: header.readUInt32BE(6), meta, body });
    }
  }

  #peekLength(): number {
    if (this.#chunks[0].length < 4) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0].readUInt32BE(0);
  }

  /** The next n bytes: a view when one chunk holds them, else gathered into a buffer of exactly n bytes. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) {
      const chunk = this.#chunks[0];
      const k = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, k);
      at += k;
      if (k === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(k);
    }
    return out;
  }
}

function parseMeta(bytes: Buffer): Meta {
  let meta: unknown;
  try {
    meta = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new FrameError('frame meta is not JSON');
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new FrameError('frame meta is not a JSON object');
  return meta as Meta;
}

/**
 * The body as a view when it is most of the memory behind it (a stream
 * message of its own), else a copy, so a small body kept for long (a head, a
 * shard in a memory store) does not pin a large receive buffer.
 */
function ownBody(body: Buffer): Uint8Array {
  if (body.length * 2 >= body.buffer.byteLength) return new Uint8Array(body.buffer, body.byteOffset, body.length);
  return new Uint8Array(body);
}
