/**
 * A storage peer as a real process: who gets in, what a broken client can do
 * to it, and what survives a kill -9.
 */
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import DHT from 'hyperdht';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shardId } from '../../src/crypto/index.js';
import { logPath } from '../../src/dev/peer-process.js';
import { Op, encodeFrame } from '../../src/peer/frame.js';
import { ShardCorruptError, StoreUnavailableError } from '../../src/store/index.js';
import { shardBytes } from '../../src/stripe/index.js';
import { TestCluster, startTestnet, type Testnet } from '../helpers/peers.js';
import { randomBytes, rng } from '../helpers/random.js';

let testnet: Testnet;
let cluster: TestCluster;
beforeAll(async () => {
  testnet = await startTestnet();
});
afterEach(async () => {
  await cluster?.cleanup();
});
afterAll(async () => {
  await testnet?.destroy();
});

const next = rng();
const shard = (length = 4096) => {
  const bytes = randomBytes(next, length);
  return { id: shardId(bytes), bytes };
};

/** A raw Noise connection to the peer, for sending what a well-behaved client never would. */
async function rawConnection(key: string, keyPair = cluster.member) {
  const dht = new DHT({ bootstrap: testnet.bootstrap, host: '127.0.0.1', ephemeral: true });
  const socket = dht.connect(Buffer.from(key, 'hex'), { keyPair });
  socket.on('error', () => undefined);
  await once(socket, 'open');
  return { socket, close: () => dht.destroy() };
}

describe('a storage peer process', () => {
  it('refuses a stranger that knows the topic before it can send a request, and keeps serving members', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const stranger = cluster.store(peer, cluster.network(DHT.keyPair()));
    await expect(stranger.stat({ signal: AbortSignal.timeout(8000) })).rejects.toThrow(/not connected|aborted/);
    const member = cluster.store(peer);
    expect(await member.stat()).toMatchObject({ shards: 0 });
    const log = await readFile(logPath(peer.options.dir), 'utf8');
    expect(log).toMatch(/refused a connection from a key that is not a cluster member/);
  });

  it.each([
    ['a frame claiming 100 MiB', () => Buffer.from([0x06, 0x40, 0x00, 0x00, 1, 1, 0, 0, 0, 1])],
    ['a frame of another version', () => {
      const [head] = encodeFrame(Op.Stat, 1, {});
      const b = Buffer.from(head);
      b[4] = 9;
      return b;
    }],
    ['bytes that are no frame at all', () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ])('closes a connection that sends %s, and serves the others', async (_, bytes) => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const member = cluster.store(peer);
    const s = shard();
    await member.put(s.id, s.bytes);
    const raw = await rawConnection(peer.key);
    try {
      const closed = new Promise((resolve) => raw.socket.once('close', resolve));
      raw.socket.write(bytes());
      await closed;
    } finally {
      await raw.close();
    }
    expect(await member.get(s.id)).toEqual(s.bytes);
    const log = await readFile(logPath(peer.options.dir), 'utf8');
    expect(log).toMatch(/malformed frame: closing the connection/);
  });

  it('refuses a shard whose bytes do not hash to its id even when the client skipped its own check', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const store = cluster.store(peer);
    const s = shard(256 * 1024);
    const other = shard(256 * 1024);
    await expect(store.put(s.id, other.bytes, { verify: false })).rejects.toBeInstanceOf(ShardCorruptError);
    expect(await store.has(s.id)).toBe(false);
    await store.put(s.id, s.bytes, { verify: false });
    expect(await store.get(s.id)).toEqual(s.bytes);
  });

  it('carries the largest shard a volume makes (a 16 MiB block, k = 1): more than one Noise message can hold', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const store = cluster.store(peer);
    // shardBytes(16 MiB, 1): header, nonce, the block and its tag in one shard.
    const s = shard(shardBytes(16 * 2 ** 20, 1));
    await store.put(s.id, s.bytes);
    expect(Buffer.compare(await store.get(s.id), s.bytes)).toBe(0);
  });

  it('answers an unknown request type with an error and keeps the connection', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const raw = await rawConnection(peer.key);
    try {
      const [a] = encodeFrame(200, 7, {});
      const [b] = encodeFrame(Op.Stat, 8, {});
      const answers: Buffer[] = [];
      raw.socket.on('data', (d: Buffer) => answers.push(d));
      raw.socket.write(Buffer.concat([a, b]));
      await expect.poll(() => Buffer.concat(answers).toString('latin1')).toMatch(/unknown request type 200[\s\S]*"shards":0/);
    } finally {
      await raw.close();
    }
  });

  it('loses no acknowledged shard when killed with -9 in the middle of writes', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const store = cluster.store(peer);
    const acked: { id: string; bytes: Uint8Array }[] = [];
    const writers = Array.from({ length: 8 }, async () => {
      for (;;) {
        const s = shard(16 * 1024);
        try {
          await store.put(s.id, s.bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(StoreUnavailableError);
          return;
        }
        acked.push(s);
      }
    });
    await expect.poll(() => acked.length, { timeout: 20_000 }).toBeGreaterThan(20);
    await peer.stop('SIGKILL');
    await Promise.all(writers);
    await peer.start();
    const after = cluster.store(peer);
    for (const s of acked) expect(await after.get(s.id)).toEqual(s.bytes);
    expect((await after.stat()).shards).toBeGreaterThanOrEqual(acked.length);
  });

  it('stops cleanly on SIGTERM', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const store = cluster.store(peer);
    const s = shard();
    await store.put(s.id, s.bytes);
    await peer.stop('SIGTERM');
    expect(peer.exitCode).toBe(0);
    expect(await readFile(logPath(peer.options.dir), 'utf8')).toMatch(/"signal":"SIGTERM".*stopping/);
    await peer.start();
    expect(await cluster.store(peer).get(s.id)).toEqual(s.bytes);
  });

  it('keeps only shards, never a key: its directory holds no key material but its own seed', async () => {
    cluster = new TestCluster(testnet);
    const peer = await cluster.startPeer();
    const files = await readdir(peer.options.dir, { recursive: true });
    expect(files.filter((f) => !f.startsWith('store'))).toEqual(expect.arrayContaining(['peer.json', 'peer.log']));
    const state = JSON.parse(await readFile(join(peer.options.dir, 'peer.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(state).sort()).toEqual(['capacity', 'join', 'seed', 'version', 'zone']);
  });
});
