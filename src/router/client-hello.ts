/**
 * Reads just enough of a TLS connection to route it: the ClientHello, which
 * may span several handshake records, and its server_name extension
 * (RFC 8446 4.1.2, RFC 6066 3). Nothing is decrypted or answered; the bytes
 * read are handed on unchanged. Everything is bounded: a record may not
 * exceed 2^14 bytes (the TLS limit), the ClientHello MAX_HELLO bytes, and all
 * records together MAX_HELLO_BYTES.
 */

/** TLS alert descriptions the router sends before closing (RFC 8446 6). */
export const Alert = {
  unexpectedMessage: 10,
  recordOverflow: 22,
  handshakeFailure: 40,
  decodeError: 50,
  illegalParameter: 47,
  internalError: 80,
  unrecognizedName: 112,
} as const;

export const MAX_RECORD = 1 << 14;
export const MAX_HELLO = 16 * 1024;
export const MAX_HELLO_BYTES = 4 * MAX_HELLO;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export type HelloRejection = 'not-tls' | 'record-overflow' | 'hello-too-large' | 'malformed';

export type HelloResult =
  | { kind: 'more' }
  /** `sni` is lowercase, undefined when the client sent none; `bytes` is everything read, to forward as-is. */
  | { kind: 'hello'; sni: string | undefined; bytes: Buffer }
  | { kind: 'reject'; reason: HelloRejection; alert: number; detail: string };

/** A fatal alert record, sent in the clear (there is no handshake yet to protect it). */
export function alertRecord(description: number): Buffer {
  return Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]);
}

class Malformed extends Error {}

/** A bounds-checked cursor over the ClientHello body. */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new Malformed(`${what} runs past the end of the ClientHello`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  take(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  get left(): number {
    return this.buf.length - this.pos;
  }
}

function serverName(ext: Buffer): string {
  const c = new Cursor(ext);
  const listLength = c.u16('server_name list length');
  if (listLength !== c.left || listLength === 0) throw new Malformed('server_name list length does not match');
  let name: string | undefined;
  while (c.left > 0) {
    const type = c.u8('server_name type');
    const value = c.take(c.u16('server_name length'), 'server_name');
    if (type !== 0) continue;
    if (name !== undefined) throw new Malformed('two host names in server_name');
    name = value.toString('latin1').toLowerCase();
    if (!HOST_NAME.test(name)) throw new Malformed('server_name is not a host name');
  }
  if (name === undefined) throw new Malformed('server_name holds no host name');
  return name;
}

/** The SNI host name of a complete ClientHello body (after the 4-byte handshake header). */
export function parseClientHelloBody(body: Buffer): string | undefined {
  const c = new Cursor(body);
  c.take(2 + 32, 'version and random');
  const session = c.u8('session id length');
  if (session > 32) throw new Malformed('session id longer than 32 bytes');
  c.take(session, 'session id');
  const suites = c.u16('cipher suites length');
  if (suites < 2 || suites % 2 !== 0) throw new Malformed('cipher suites length is not a positive even number');
  c.take(suites, 'cipher suites');
  const compression = c.u8('compression methods length');
  if (compression < 1) throw new Malformed('no compression methods');
  c.take(compression, 'compression methods');
  if (c.left === 0) return undefined; // TLS 1.0-1.2 may omit extensions altogether
  const extensions = c.u16('extensions length');
  if (extensions !== c.left) throw new Malformed('extensions length does not match the ClientHello length');
  const seen = new Set<number>();
  let sni: string | undefined;
  while (c.left > 0) {
    const type = c.u16('extension type');
    const data = c.take(c.u16('extension length'), 'extension');
    if (seen.has(type)) throw new Malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) sni = serverName(data);
  }
  return sni;
}

/** Chunks of bytes consumed from the front, copying each byte at most once (peeks copy only a few). */
class Queue {
  #parts: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.#parts.push(chunk);
    this.length += chunk.length;
  }

  /** The first n bytes (n <= length), without consuming them. */
  peek(n: number): Buffer {
    const first = this.#parts[0];
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const part of this.#parts) {
      filled += part.copy(out, filled, 0, Math.min(part.length, n - filled));
      if (filled === n) break;
    }
    return out;
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const part = this.#parts[0];
      if (part.length <= left) {
        this.#parts.shift();
        left -= part.length;
      } else {
        this.#parts[0] = part.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

/**
 * Feed it the bytes of a new connection as they arrive; it answers "more",
 * the ClientHello's SNI, or a rejection with the alert to send. Once it has
 * answered anything but "more", it must not be fed again. Work per push is
 * proportional to the bytes pushed, however the client splits records.
 */
export class ClientHelloReader {
  readonly #raw: Buffer[] = [];
  #total = 0;
  readonly #unread = new Queue();
  readonly #handshake = new Queue();

  push(chunk: Buffer): HelloResult {
    if (chunk.length === 0) return { kind: 'more' };
    this.#raw.push(chunk);
    this.#total += chunk.length;
    this.#unread.push(chunk);
    if (this.#unread.peek(1)[0] !== RECORD_HANDSHAKE) {
      return reject('not-tls', Alert.unexpectedMessage, 'the connection did not start with a TLS handshake record');
    }
    // Each pass consumes one whole record of at least 6 bytes from this push's bytes or earlier ones.
    while (this.#unread.length >= 5) {
      const header = this.#unread.peek(5);
      const length = header.readUInt16BE(3);
      if (header[0] !== RECORD_HANDSHAKE || header[1] !== 3) {
        return reject('not-tls', Alert.unexpectedMessage, 'a record that is not a TLS handshake record');
      }
      if (length > MAX_RECORD) {
        return reject('record-overflow', Alert.recordOverflow, `a ${length}-byte record (TLS allows ${MAX_RECORD})`);
      }
      if (length === 0) return reject('malformed', Alert.decodeError, 'an empty handshake record');
      if (this.#unread.length < 5 + length) break;
      this.#handshake.push(this.#unread.take(5 + length).subarray(5));
      const verdict = this.#judge();
      if (verdict) return verdict;
    }
    if (this.#total > MAX_HELLO_BYTES) {
      return reject('hello-too-large', Alert.handshakeFailure, `no complete ClientHello in ${this.#total} bytes`);
    }
    return { kind: 'more' };
  }

  /** Judges the handshake bytes assembled so far; undefined means the ClientHello is not complete yet. */
  #judge(): HelloResult | undefined {
    const hs = this.#handshake;
    if (hs.peek(1)[0] !== HANDSHAKE_CLIENT_HELLO) {
      return reject('malformed', Alert.unexpectedMessage, `first handshake message is type ${hs.peek(1)[0]}, not ClientHello`);
    }
    if (hs.length < 4) return undefined;
    const length = hs.peek(4).readUIntBE(1, 3);
    if (length > MAX_HELLO) {
      return reject('hello-too-large', Alert.handshakeFailure, `a ${length}-byte ClientHello (at most ${MAX_HELLO})`);
    }
    if (hs.length < 4 + length) return undefined;
    try {
      const sni = parseClientHelloBody(hs.take(4 + length).subarray(4));
      return { kind: 'hello', sni, bytes: Buffer.concat(this.#raw, this.#total) };
    } catch (err) {
      if (err instanceof Malformed) return reject('malformed', Alert.decodeError, err.message);
      throw err;
    }
  }
}

function reject(reason: HelloRejection, alert: number, detail: string): HelloResult {
  return { kind: 'reject', reason, alert, detail };
}
