/**
 * The client side of the peer protocol: one DHT node per process, with the
 * cluster member keypair, dialling each known peer by its public key, and a
 * PeerLink per peer that matches responses to requests.
 */
import type DHT from 'hyperdht';
import type { KeyPair } from 'hyperdht';
import { hyperdht } from './dht.js';
import type { NoiseStream } from 'hyperswarm';
import { OperationAbortedError, StoreUnavailableError } from '../store/index.js';
import { ERROR, type Frame, FrameReader, type Meta, Op, encodeFrame, writeFrame } from './frame.js';
import { roomyUdx } from './udx.js';

/** How long a new link waits for its first connection before requests fail fast. */
export const CONNECT_GRACE_MS = 3_000;
/**
 * How long requests wait for a redial after a connection drops: a process
 * resumed after a pause finds every connection timed out, and its first
 * requests should reach the peers, not fail on links about to come back.
 */
const RECONNECT_GRACE_MS = 3_000;
/** Default per-request timeout: a shard of a large block on a loaded peer. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Requests one link sends before queueing the rest (backpressure on the peer). */
const MAX_INFLIGHT = 32;

export interface Response {
  meta: Meta;
  body: Uint8Array;
}

interface Pending {
  resolve(r: Response): void;
  reject(err: Error): void;
  /** Clears the timeout and the abort listener: a caller's signal may outlive thousands of requests. */
  settle(): void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class PeerLink {
  readonly key: string;
  /** Store id of this peer: `peer:` and the first 16 hex characters of its key. */
  readonly storeId: string;
  #socket: NoiseStream | undefined;
  #reader = new FrameReader();
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #waiting: (() => void)[] = [];
  #graceUntil = Date.now() + CONNECT_GRACE_MS;
  #connectedWaiters: (() => void)[] = [];
  #closed = false;
  #downSince = Date.now();

  constructor(key: string) {
    this.key = key;
    this.storeId = `peer:${key.slice(0, 16)}`;
  }

  /** Connected, or within the grace for its first connection or a redial: placement should count on it. */
  get up(): boolean {
    return this.#socket !== undefined || Date.now() < this.#graceUntil;
  }

  /** 0 while connected; else how long since the link was made or last dropped. */
  get downForMs(): number {
    return this.#socket ? 0 : Date.now() - this.#downSince;
  }

  attach(socket: NoiseStream): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    // A newer connection replaces the old one; the old one's requests fail and are retried by the caller.
    this.#socket?.destroy();
    this.#socket = socket;
    this.#downSince = 0;
    this.#reader = new FrameReader();
    watchLiveness(socket);
    socket.on('data', (chunk: Uint8Array) => {
      if (this.#socket !== socket) return;
      let frames: Frame[];
      try {
        frames = this.#reader.push(chunk);
      } catch (err) {
        this.#drop(socket, `it sent a malformed frame (${(err as Error).message})`);
        return;
      }
      for (const f of frames) this.#settle(f);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#drop(socket, 'the connection closed'));
    for (const wake of this.#connectedWaiters.splice(0)) wake();
  }

  #drop(socket: NoiseStream, why: string): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#downSince = Date.now();
    this.#graceUntil = Date.now() + RECONNECT_GRACE_MS;
    socket.destroy();
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.settle();
      p.reject(new StoreUnavailableError(this.storeId, why));
    }
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #settle(frame: Frame): void {
    const p = this.#pending.get(frame.id);
    if (!p) return;
    this.#pending.delete(frame.id);
    p.settle();
    this.#waiting.shift()?.();
    if (frame.type === ERROR) p.reject(Object.assign(new Error('peer error'), { meta: frame.meta }));
    else p.resolve({ meta: frame.meta, body: frame.body });
  }

  async #connected(signal?: AbortSignal): Promise<NoiseStream> {
    if (this.#socket) return this.#socket;
    const wait = this.#graceUntil - Date.now();
    if (wait > 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        timer.unref();
        this.#connectedWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    if (this.#socket) return this.#socket;
    throw new StoreUnavailableError(this.storeId, this.#closed ? 'it has been closed' : 'the peer is not connected');
  }

  /**
   * One request and its response. Errors the peer sends come back as an Error
   * with `meta` for the store to rebuild; transport failures as
   * StoreUnavailableError; a timeout or abort as OperationAbortedError.
   */
  async request(op: Op, meta: Meta, body: Uint8Array | undefined, options: RequestOptions = {}): Promise<Response> {
    const { signal, timeoutMs = REQUEST_TIMEOUT_MS } = options;
    if (this.#pending.size >= MAX_INFLIGHT) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const socket = await this.#connected(signal);
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 0xffffffff) + 1;
    const frame = encodeFrame(op, id, meta, body);
    return new Promise<Response>((resolve, reject) => {
      const fail = (err: Error) => {
        if (!this.#pending.delete(id)) return;
        settle();
        this.#waiting.shift()?.();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new OperationAbortedError(this.storeId, `request ${op}`, new Error(`no answer within ${timeoutMs} ms`))),
        timeoutMs,
      );
      timer.unref();
      const onAbort = () => fail(new OperationAbortedError(this.storeId, `request ${op}`, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#pending.set(id, { resolve, reject, settle });
      writeFrame(socket, frame);
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#socket) this.#drop(this.#socket, 'it has been closed');
    for (const wake of this.#connectedWaiters.splice(0)) wake();
  }
}

/** Redial delays after a connection fails or drops: from the first to the cap, doubling. */
const REDIAL_MIN_MS = 100;
const REDIAL_MAX_MS = 2_000;

/** Keepalives every KEEPALIVE_MS; a connection silent for DEAD_AFTER_MS is closed, so a killed peer shows as down. */
const KEEPALIVE_MS = 1_000;
const DEAD_AFTER_MS = 5_000;

export function watchLiveness(socket: NoiseStream): void {
  socket.setKeepAlive(KEEPALIVE_MS);
  socket.setTimeout(DEAD_AFTER_MS);
}

/** How long a new connection has to answer its first request before it is redialled. */
const PROBE_MS = 1_000;

function probe(socket: NoiseStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Uint8Array) => {
      try {
        if (reader.push(chunk).some((f) => f.id === 0)) done();
      } catch (err) {
        done(err as Error);
      }
    };
    const timer = setTimeout(() => done(new Error('no answer to the probe')), PROBE_MS);
    socket.on('data', onData);
    const [head] = encodeFrame(Op.Stat, 0, {});
    socket.write(head);
  });
}

/**
 * One DHT node for every peer this process talks to, dialling each known
 * peer by its public key (hyperswarm's DHT finds it and does the Noise
 * handshake) and redialling with backoff while the network is open.
 */
export class PeerNetwork {
  readonly #dht: DHT;
  readonly #keyPair: KeyPair;
  readonly #links = new Map<string, PeerLink>();
  #closed = false;

  constructor(keyPair: KeyPair, bootstrap: { host: string; port: number }[]) {
    this.#keyPair = keyPair;
    this.#dht = new (hyperdht())({ bootstrap, host: '127.0.0.1', ephemeral: true, udx: roomyUdx() });
  }

  link(key: string): PeerLink {
    let link = this.#links.get(key);
    if (!link) {
      link = new PeerLink(key);
      this.#links.set(key, link);
      this.#dial(link, REDIAL_MIN_MS);
    }
    return link;
  }

  #dial(link: PeerLink, backoff: number): void {
    if (this.#closed) return;
    const socket = this.#dht.connect(Buffer.from(link.key, 'hex'), { keyPair: this.#keyPair });
    let opened = false;
    socket.once('open', () => {
      // A hole-punched stream can report open while the peer never sees it (seen on loopback);
      // a stat answered within PROBE_MS proves the link before requests go on it.
      probe(socket).then(
        () => {
          opened = true;
          link.attach(socket);
        },
        () => socket.destroy(),
      );
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.#closed) return;
      // A connection that opened and later dropped redials at once; a failed dial backs off.
      const delay = opened ? REDIAL_MIN_MS : backoff;
      setTimeout(() => this.#dial(link, opened ? REDIAL_MIN_MS : Math.min(backoff * 2, REDIAL_MAX_MS)), delay).unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    await this.#dht.destroy();
  }
}
