/**
 * A storage peer: serves one ShardStore (its own directory) to the cluster's
 * members over hyperswarm. It sees only shards and signed heads; it checks
 * every shard's hash (the store does), never holds a key.
 */
import { createHash } from 'node:crypto';
import type DHT from 'hyperdht';
import type { DHTServer, KeyPair } from 'hyperdht';
import { hyperdht } from './dht.js';
import type { NoiseStream } from 'hyperswarm';
import { shardId } from '../crypto/index.js';
import type { Logger } from '../log/index.js';
import { ShardCorruptError, type ShardStore } from '../store/index.js';
import { watchLiveness } from './client.js';
import { errorMeta } from './errors.js';
import { ERROR, type Frame, FrameError, FrameReader, type Meta, OK, Op, encodeFrame, writeFrame } from './frame.js';
import { roomyUdx } from './udx.js';

/** Requests one connection may have in flight before the peer stops reading from it. */
const MAX_INFLIGHT = 32;
/**
 * Answer bytes a connection may have queued unsent before the peer stops
 * reading from it: enough for a window of shard reads to overlap their disk
 * reads with sending, little enough that a client that does not read cannot
 * make the peer hold more than this (plus one answer) per connection.
 */
const MAX_UNSENT_BYTES = 8 * 2 ** 20;
/** DHT announcements expire; the peer renews its own this often while it runs. */
const ANNOUNCE_EVERY_MS = 5 * 60_000;
/** Shards one scrub request re-hashes; the client pages through the store. */
export const SCRUB_PAGE = 256;

export interface PeerServerOptions {
  store: ShardStore;
  keyPair: KeyPair;
  topic: Uint8Array;
  /** Public keys (hex) allowed in; everyone else is refused at the Noise handshake. */
  members: ReadonlySet<string>;
  bootstrap: { host: string; port: number }[];
  zone: string;
  log: Logger;
}

export class PeerServer {
  readonly #options: PeerServerOptions;
  readonly #dht: DHT;
  readonly #server: DHTServer;
  readonly #connections = new Set<NoiseStream>();
  #announcer: NodeJS.Timeout | undefined;

  private constructor(options: PeerServerOptions) {
    this.#options = options;
    // A storage peer is a server: reachable at its address, not behind a NAT that needs hole punching.
    this.#dht = new (hyperdht())({ bootstrap: options.bootstrap, host: '127.0.0.1', ephemeral: true, firewalled: false, udx: roomyUdx() });
    // The firewall runs on the Noise handshake: a stranger never gets to send a single request.
    this.#server = this.#dht.createServer(
      {
        firewall: (remote) => {
          const key = remote.toString('hex');
          if (options.members.has(key)) return false;
          options.log.warn({ remote: key.slice(0, 16) }, 'refused a connection from a key that is not a cluster member');
          return true;
        },
      },
      (socket) => this.#serve(socket),
    );
  }

  /** Listens on the peer's key and announces it on the cluster topic (hyperswarm's DHT). */
  static async start(options: PeerServerOptions): Promise<PeerServer> {
    const server = new PeerServer(options);
    await server.#server.listen(options.keyPair);
    const announce = () => server.#dht.announce(options.topic, options.keyPair).finished();
    await announce();
    server.#announcer = setInterval(() => {
      announce().catch((err: unknown) => options.log.warn({ err: (err as Error).message }, 'could not renew the topic announcement'));
    }, ANNOUNCE_EVERY_MS);
    server.#announcer.unref();
    return server;
  }

  get publicKey(): string {
    return this.#options.keyPair.publicKey.toString('hex');
  }

  #serve(socket: NoiseStream): void {
    const { log } = this.#options;
    const remote = socket.remotePublicKey.toString('hex').slice(0, 16);
    this.#connections.add(socket);
    watchLiveness(socket);
    log.info({ remote }, 'member connected');
    const reader = new FrameReader();
    let inflight = 0;
    // Counted here: the stream is a streamx Duplex, which has no writableNeedDrain or writableLength.
    let unsent = 0;
    let closed = false;
    const flow = () => {
      if (closed) return;
      if (inflight >= MAX_INFLIGHT || unsent > MAX_UNSENT_BYTES) socket.pause();
      else socket.resume();
    };
    socket.on('drain', () => {
      unsent = 0;
      flow();
    });
    socket.on('data', (chunk: Uint8Array) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        log.warn({ remote, err: (err as Error).message }, 'malformed frame: closing the connection');
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        inflight++;
        flow();
        this.#answer(frame)
          .then(
            ([meta, body]) => encodeFrame(OK, frame.id, meta, body),
            (err: unknown) => encodeFrame(ERROR, frame.id, errorMeta(err)),
          )
          .then((answer) => {
            if (closed) return;
            const flushed = writeFrame(socket, answer);
            unsent = flushed ? 0 : unsent + answer[0].length + answer[1].length;
          })
          .catch((err: unknown) => log.error({ remote, err: (err as Error).message }, 'could not answer a request'))
          .finally(() => {
            inflight--;
            flow();
          });
      }
    });
    socket.on('error', (err: Error) => log.debug({ remote, err: err.message }, 'connection error'));
    socket.on('close', () => {
      closed = true;
      this.#connections.delete(socket);
      log.info({ remote }, 'member disconnected');
    });
  }

  async #answer(frame: Frame): Promise<[Meta, Uint8Array?]> {
    const { store, zone } = this.#options;
    const m = frame.meta;
    const id = m.id as string;
    switch (frame.type as Op) {
      case Op.Put: {
        // The body is this request's own buffer: hashed once here, the store need not copy and re-hash it.
        // A mismatch (or a malformed id) goes through the store's own checks, for its usual error.
        const intact = shardId(frame.body) === id;
        await store.put(id, frame.body, { verify: !intact });
        return [{}];
      }
      case Op.Get:
        return [{}, await store.get(id)];
      case Op.Has:
        return [{ has: await store.has(id) }];
      case Op.Delete:
        await store.delete(id);
        return [{}];
      case Op.List:
        return [{ ...(await store.list({ after: m.after as string | undefined, limit: m.limit as number | undefined })) }];
      case Op.Stat:
        return [{ ...(await store.stat()), zone }];
      case Op.PutHead:
        await store.putHead({ volumeId: m.volumeId as string, epoch: m.epoch as number, seq: m.seq as number, body: frame.body });
        return [{}];
      case Op.GetHead: {
        const head = await store.getHead(m.volumeId as string);
        return head ? [{ found: true, epoch: head.epoch, seq: head.seq }, head.body] : [{ found: false }];
      }
      case Op.PutLease:
        await store.putLease(m.lease as never);
        return [{}];
      case Op.GetLease:
        return [{ lease: (await store.getLease(m.volumeId as string)) ?? null }];
      case Op.DeleteRecords:
        await store.deleteRecords(m.volumeId as string);
        return [{}];
      case Op.Scrub:
        return [await this.#scrub(m.after as string | undefined)];
      case Op.Audit:
        return [{ digest: await this.#audit(id, m) }];
      default:
        throw new FrameError(`unknown request type ${frame.type}`);
    }
  }

  /**
   * Re-hashes one page of shards. A shard that no longer matches its id is
   * deleted: it can never be served, and its absence is what repair looks for.
   */
  async #scrub(after: string | undefined): Promise<Meta> {
    const { store, log } = this.#options;
    const page = await store.list({ after, limit: SCRUB_PAGE });
    const bad: string[] = [];
    for (const id of page.ids) {
      try {
        await store.get(id);
      } catch (err) {
        if (!(err instanceof ShardCorruptError)) throw err;
        bad.push(id);
        await store.delete(id);
        log.warn({ shard: id.slice(0, 16) }, 'scrub: shard damaged at rest, deleted');
      }
    }
    return { checked: page.ids.length, bad, ...(page.next ? { next: page.next } : {}) };
  }

  /** Proof of storage: SHA-256 of the client's nonce and a range of the shard, which only the shard's holder can compute. */
  async #audit(id: string, m: Meta): Promise<string> {
    const bytes = await this.#options.store.get(id);
    const offset = Number(m.offset);
    const length = Number(m.length);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new FrameError(`audit range ${m.offset}+${m.length} is outside the ${bytes.length}-byte shard`);
    }
    return auditDigest(Buffer.from(String(m.nonce), 'hex'), bytes, offset, length);
  }

  async close(): Promise<void> {
    clearInterval(this.#announcer);
    await this.#server.close();
    for (const socket of this.#connections) socket.destroy();
    await this.#dht.destroy();
    await this.#options.store.close();
  }
}

/** What an audit answer must be: computed by the client from a copy it rebuilt itself. */
export function auditDigest(nonce: Uint8Array, shard: Uint8Array, offset: number, length: number): string {
  return createHash('sha256').update(nonce).update(shard.subarray(offset, offset + length)).digest('hex');
}
