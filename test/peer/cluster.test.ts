/**
 * Promises 1, 4, 5 and 6 on the embedded cluster: six real peer processes on
 * a loopback testnet, RS 4+2, written and read through real FUSE mounts and
 * the CLI, read back in-process where every combination of losses is tried.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unlockKeyring } from '../../src/cluster/index.js';
import { shardId } from '../../src/crypto/index.js';
import { type DevCluster, startDevCluster } from '../../src/dev/index.js';
import { PeerServer, peerKeyPair } from '../../src/peer/index.js';
import type { PeerState } from '../../src/peer/index.js';
import { MemoryStore, StaleHeadError } from '../../src/store/index.js';
import { sessionFor, openVolume } from '../../src/cli/session.js';
import { createLogger } from '../../src/log/index.js';
import { CairnEnv, PASSPHRASE, shAsync } from '../helpers/cairn-env.js';

const env = new CairnEnv('peers');
let cluster: DevCluster;
let masterKey: Uint8Array;
const MARKER = 'CAIRN-PLAINTEXT-MARKER-7f3a91';
const SECRET_NAME = 'quarterly-salaries-7f3a91.txt';
/** What the tests wrote, by path in the volume: its SHA-256. */
const expected = new Map<string, string>();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  env.init();
  masterKey = (await unlockKeyring(env.home, PASSPHRASE)).masterKey;
  cluster = await startDevCluster({ home: env.home, masterKey, dir: env.dir('dev'), peers: 6 });
  const made = await env.runAsync(['volume', 'create', 'data', '--backend', 'peers']);
  expect(made.stderr).toBe('');
}, 120_000);

afterAll(async () => {
  await env.cleanupMounts();
  await cluster?.stop();
});

/** Files through a real read-write mount, ended with fsync; returns the mount's output. */
async function writeFiles(files: Record<string, Buffer>): Promise<string> {
  const mnt = env.dir('mnt-rw');
  const mount = await env.mount('data', mnt);
  const src = env.dir('src');
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(src, name), bytes);
    const r = await shAsync(`cp ${join(src, name)} ${join(mnt, name)} && sync ${join(mnt, name)}`);
    expect(r.stderr).toBe('');
    expected.set(name, sha(bytes));
  }
  expect(await mount.stop()).toBe(0);
  return mount.output();
}

/** Every expected file read back in this process over fresh connections: their hashes, or the error. */
async function readBack(): Promise<Map<string, string>> {
  const session = sessionFor(env.home, masterKey);
  try {
    const volume = await openVolume(session, await session.catalogs.get('data'), { readOnly: true });
    try {
      const got = new Map<string, string>();
      for (const name of expected.keys()) {
        const size = (await volume.fs.getattr(`/${name}`)).size;
        const fh = await volume.fs.open(`/${name}`, 0);
        const out = new Uint8Array(size);
        try {
          expect(await volume.fs.read(fh, out, size, 0)).toBe(size);
        } finally {
          await volume.fs.release(fh);
        }
        got.set(name, sha(out));
      }
      return got;
    } finally {
      await volume.close();
    }
  } finally {
    await session.close();
  }
}

/** Claims to hold every shard and answers each read with bytes of the right size class and the wrong content. */
class LiarStore extends MemoryStore {
  override async get(id: string): Promise<Uint8Array> {
    return new Uint8Array(256 * 1024 + 3).fill(id.charCodeAt(0));
  }

  override async has(): Promise<boolean> {
    return true;
  }
}

async function allFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('a 4+2 volume on six peers', () => {
  it('stores files the peers cannot read: no marker, no file name in any peer file', async () => {
    await writeFiles({
      'big.bin': Buffer.from(Array.from({ length: 3 * 2 ** 20 + 17 }, (_, i) => (i * 7919) % 251)),
      'mid.bin': Buffer.alloc(2 ** 20, 0xab),
      [SECRET_NAME]: Buffer.from(`${MARKER}\n`.repeat(1000)),
    });
    const files = (await Promise.all(cluster.peers.map((p) => allFiles(p.options.dir)))).flat();
    expect(files.length).toBeGreaterThan(6 * 5);
    for (const file of files) {
      expect(file).not.toContain(SECRET_NAME);
      const bytes = await readFile(file);
      expect(bytes.includes(MARKER), `${file} holds the marker`).toBe(false);
      expect(bytes.includes(SECRET_NAME), `${file} holds the file name`).toBe(false);
    }
    expect(await readBack()).toEqual(expected);
  });

  it('reads every file back exact with any two peers killed', async () => {
    for (let a = 0; a < 6; a++) {
      for (let b = a + 1; b < 6; b++) {
        const down = [cluster.peers[a], cluster.peers[b]];
        await Promise.all(down.map((p) => p.stop('SIGKILL')));
        try {
          expect(await readBack(), `peers ${a + 1} and ${b + 1} down`).toEqual(expected);
        } finally {
          await Promise.all(down.map((p) => p.start()));
        }
      }
    }
  }, 300_000);

  it('with a third peer gone, a read is a clear I/O error, never wrong bytes', async () => {
    const mnt = env.dir('mnt-ro');
    await Promise.all([0, 1].map((i) => cluster.peers[i].stop('SIGKILL')));
    try {
      const mount = await env.mount('data', mnt, ['--read-only']);
      await cluster.peers[2].stop('SIGKILL');
      const r = await shAsync(`cat ${join(mnt, 'big.bin')} | sha256sum`);
      expect(r.stderr).toMatch(/Input\/output error/);
      expect(r.stdout).not.toContain(expected.get('big.bin'));
      expect(mount.output()).toMatch(/stripe unreadable: \d of 6 shards could be fetched, 4 needed/);
      await mount.stop();
    } finally {
      await Promise.all([0, 1, 2].map((i) => cluster.peers[i].start()));
    }
    expect(await readBack()).toEqual(expected);
  });

  it('writes with one peer down, refuses with two (fewer than k+1), and repair brings every stripe back to n', async () => {
    await cluster.peers[3].stop('SIGKILL');
    let restarted = false;
    try {
      await writeFiles({ 'degraded.bin': Buffer.alloc(3 * 2 ** 20, 0x5c) });
      expect(await readBack()).toEqual(expected);

      await cluster.peers[4].stop('SIGKILL');
      const mnt = env.dir('mnt-2down');
      const mount = await env.mount('data', mnt);
      const r = await shAsync(`dd if=/dev/zero of=${join(mnt, 'nope.bin')} bs=1M count=2 conv=fsync 2>&1`);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toMatch(/Input\/output error/);
      await mount.stop();
      // Either the two dead peers are already known down (placement refuses) or their puts fail: a clear error both ways.
      expect(mount.output()).toMatch(/could not store a stripe: 2 of 6 shard puts failed|only 4 usable \(2 down/);

      await Promise.all([3, 4].map((i) => cluster.peers[i].start()));
      restarted = true;
      const first = await env.runAsync(['repair', 'data', '--json']);
      expect(first.stderr).toBe('');
      const report = JSON.parse(first.stdout) as { degraded: number; repaired: number; shardsRebuilt: number; unrecoverable: number; pending: number };
      // degraded.bin's three blocks and the metadata written with them, one shard short each.
      expect(report.degraded).toBeGreaterThanOrEqual(4);
      expect(report.repaired).toBe(report.degraded);
      expect(report.shardsRebuilt).toBe(report.degraded);
      expect(report).toMatchObject({ unrecoverable: 0, pending: 0 });
      const again = JSON.parse((await env.runAsync(['repair', 'data', '--json'])).stdout) as { degraded: number };
      expect(again.degraded).toBe(0);
      expect(await readBack()).toEqual(expected);
    } finally {
      if (!restarted) await Promise.all([3, 4].map((i) => cluster.peers[i].start()));
    }
  }, 120_000);

  it('scrub finds a shard rotted on a peer\'s disk, and repair rebuilds it', async () => {
    expect(JSON.parse((await env.runAsync(['repair', 'data', '--json'])).stdout)).toMatchObject({ pending: 0, unrecoverable: 0 });
    const peer = cluster.peers[1];
    const shards = await allFiles(join(peer.options.dir, 'store', 'shards'));
    const victim = shards[0];
    const bytes = await readFile(victim);
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(victim, bytes);
    const scrub = await env.runAsync(['scrub', 'data', '--json']);
    expect(scrub.stderr).toBe('');
    const report = JSON.parse(scrub.stdout) as { peers: { store: string; bad: string[] }[] };
    const bad = report.peers.flatMap((p) => p.bad);
    expect(bad).toEqual([victim.split('/').at(-1)]);
    const repair = JSON.parse((await env.runAsync(['repair', 'data', '--json'])).stdout) as { shardsRebuilt: number };
    // The rotted shard belongs to this volume's stripes unless it was garbage left by an earlier rewrite.
    expect(repair.shardsRebuilt).toBeLessThanOrEqual(1);
    expect(JSON.parse((await env.runAsync(['repair', 'data', '--json'])).stdout)).toMatchObject({ degraded: 0 });
    expect(await readBack()).toEqual(expected);
  }, 60_000);

  it('reads go on while a peer never answers, and while one answers with garbage; audits catch the liar', async () => {
    const stalled = cluster.peers[0];
    stalled.pause();
    try {
      expect(await readBack()).toEqual(expected);
    } finally {
      stalled.resume();
    }

    // A liar in place of peer 6: same key, so the client dials it, but every shard it returns is random bytes.
    const honest = cluster.peers[5];
    await honest.stop('SIGKILL');
    const state = JSON.parse(await readFile(join(honest.options.dir, 'peer.json'), 'utf8')) as PeerState;
    const liar = await PeerServer.start({
      store: new LiarStore(),
      keyPair: peerKeyPair(state),
      topic: Buffer.from(state.join.topic, 'hex'),
      members: new Set(state.join.members),
      bootstrap: cluster.bootstrap,
      zone: state.zone,
      log: createLogger('liar', { CAIRN_LOG: 'silent' }),
    });
    try {
      expect(await readBack()).toEqual(expected);
      // It cannot pretend either: every audit of a shard it claims fails, and only its own.
      const scrub = await env.runAsync(['scrub', 'data', '--audits', '64', '--json']);
      expect(scrub.stderr).toBe('');
      const report = JSON.parse(scrub.stdout) as { stripesAudited: number; auditFailures: { store: string; why: string }[] };
      expect(report.stripesAudited).toBeGreaterThan(0);
      expect(report.auditFailures.length).toBeGreaterThanOrEqual(report.stripesAudited);
      const liarId = `peer:${peerKeyPair(state).publicKey.toString('hex').slice(0, 16)}`;
      expect(new Set(report.auditFailures.map((f) => f.store))).toEqual(new Set([liarId]));
      for (const f of report.auditFailures) expect(f.why).toMatch(/wrong answer to the audit challenge|do not match/);
    } finally {
      await liar.close();
      await honest.start();
    }
  }, 90_000);

  it('collects shards no committed head references, after the grace period, and never one a head references', async () => {
    const orphan = Buffer.from(`left by a crashed commit ${Date.now()}`.repeat(100));
    const id = shardId(orphan);
    const session = sessionFor(env.home, masterKey);
    try {
      const backend = await session.backends.open({ kind: 'peers' }, 6);
      await backend.stores[0].put(id, orphan);
    } finally {
      await session.close();
    }
    const gc = async (grace: string) => {
      const r = await env.runAsync(['gc', '--backend', 'peers', '--grace', grace, '--json']);
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as { shards: number; referenced: number; candidates: number; deleted: number; failed: number };
    };
    const first = await gc('1h');
    expect(first).toMatchObject({ deleted: 0, failed: 0 });
    expect(first.candidates).toBeGreaterThanOrEqual(1);
    expect(first.referenced).toBeGreaterThan(0);
    const second = await gc('0s');
    expect(second.deleted).toBe(first.candidates);
    expect(second.candidates).toBe(0);
    const check = sessionFor(env.home, masterKey);
    try {
      const backend = await check.backends.open({ kind: 'peers' }, 6);
      expect(await backend.stores[0].has(id)).toBe(false);
    } finally {
      await check.close();
    }
    expect(await readBack()).toEqual(expected);
    expect(JSON.parse((await env.runAsync(['repair', 'data', '--json'])).stdout)).toMatchObject({ degraded: 0 });
  }, 60_000);

  it('refuses an old-epoch head on every peer once the volume was taken over', async () => {
    const session = sessionFor(env.home, masterKey);
    try {
      const entry = await session.catalogs.get('data');
      const volume = await openVolume(session, entry, { forceTakeover: true });
      const { epoch, seq } = volume;
      await volume.close();
      const backend = await session.backends.open({ kind: 'peers' }, 6);
      const stale = { volumeId: entry.id, epoch: epoch - 1, seq: seq + 100, body: new Uint8Array(8) };
      const results = await Promise.allSettled(backend.stores.map((s) => s.putHead(stale)));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StaleHeadError);
      }
    } finally {
      await session.close();
    }
  });
});
