/**
 * Scrub: the peers re-hash what they hold (no keys needed; a damaged shard
 * is deleted there), and the client audits a sample of the volume's stripes.
 * An audit fetches k shards of a stripe (the store proves each by its bytes,
 * checked against the id), rebuilds the others itself, and challenges each of
 * their stores with a fresh nonce and range: only a store that holds the
 * right bytes can answer, so a peer cannot pretend to keep what it dropped.
 * A failed shard is deleted on its store, which is what repair looks for.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { ShardStore } from '../store/index.js';
import { PeerStore } from '../store/peer.js';
import { auditDigest } from '../peer/index.js';
import { decodeDescriptor, rebuildShards } from '../stripe/index.js';
import type { BlockRef, Volume } from '../volume/index.js';

export interface ScrubOptions {
  /** Stripes to audit (a random sample; default 32; 0 for none). */
  audits?: number;
  onProgress?(done: number, total: number, label: string): void;
}

export interface PeerScrub {
  store: string;
  checked: number;
  bad: string[];
  error?: string;
}

export interface ScrubReport {
  peers: PeerScrub[];
  stripesAudited: number;
  shardsAudited: number;
  /** Shards a store could not prove: absent, damaged or answered wrongly; deleted there for repair. */
  auditFailures: { store: string; shard: string; why: string }[];
}

async function scrubPeer(store: PeerStore): Promise<PeerScrub> {
  const result: PeerScrub = { store: store.id, checked: 0, bad: [] };
  try {
    let after: string | undefined;
    do {
      const page = await store.scrub(after);
      result.checked += page.checked;
      result.bad.push(...page.bad);
      after = page.next;
    } while (after);
  } catch (err) {
    result.error = (err as Error).message;
  }
  return result;
}

/** Whether `store` holds exactly `expected` as shard `id`, proven without shipping the shard where it can answer a challenge. */
async function prove(store: ShardStore, id: string, expected: Uint8Array): Promise<string | undefined> {
  try {
    if (store instanceof PeerStore) {
      const nonce = randomBytes(16);
      const offset = randomInt(0, expected.length);
      const length = randomInt(1, expected.length - offset + 1);
      const answer = await store.audit(id, nonce, offset, length);
      return answer === auditDigest(nonce, expected, offset, length) ? undefined : 'wrong answer to the audit challenge';
    }
    // Stores that cannot answer challenges (buckets, local directories) prove a shard by sending it; get() checks its hash.
    await store.get(id);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function auditStripe(volume: Volume, ref: BlockRef, report: ScrubReport): Promise<void> {
  const backend = volume.backend;
  const d = decodeDescriptor(ref.descriptor);
  const n = d.k + d.m;
  const slots = Array.from({ length: n }, (_, i) => i).filter((i) => ref.stores[i] && backend.store(ref.stores[i]));
  // Random order, so over many audits every slot is fetched sometimes and challenged sometimes.
  for (let i = slots.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  const shards: (Uint8Array | null)[] = new Array(n).fill(null);
  const fetched = new Set<number>();
  const fail = async (i: number, why: string) => {
    const store = backend.store(ref.stores[i])!;
    report.auditFailures.push({ store: store.id, shard: d.shardIds[i], why });
    await store.delete(d.shardIds[i]).catch(() => undefined);
  };
  for (const i of slots) {
    if (fetched.size >= d.k) break;
    try {
      shards[i] = await backend.store(ref.stores[i])!.get(d.shardIds[i]);
      fetched.add(i);
      report.shardsAudited++;
    } catch (err) {
      await fail(i, (err as Error).message);
    }
  }
  if (fetched.size < d.k) return;
  const others = slots.filter((i) => !fetched.has(i) && !report.auditFailures.some((f) => f.shard === d.shardIds[i]));
  const expected = rebuildShards(d, shards, others);
  for (const i of others) {
    const why = await prove(backend.store(ref.stores[i])!, d.shardIds[i], expected.get(i)!);
    report.shardsAudited++;
    if (why) await fail(i, why);
  }
  report.stripesAudited++;
}

export async function scrubVolume(volume: Volume, options: ScrubOptions = {}): Promise<ScrubReport> {
  const report: ScrubReport = { peers: [], stripesAudited: 0, shardsAudited: 0, auditFailures: [] };
  const peers = volume.backend.stores.filter((s): s is PeerStore => s instanceof PeerStore);
  options.onProgress?.(0, peers.length, 'peers re-hashing');
  let done = 0;
  report.peers = await Promise.all(
    peers.map(async (p) => {
      const r = await scrubPeer(p);
      options.onProgress?.(++done, peers.length, 'peers re-hashing');
      return r;
    }),
  );
  const stripes = volume.stripes();
  const sample = Math.min(options.audits ?? 32, stripes.length);
  const picked = new Set<number>();
  while (picked.size < sample) picked.add(randomInt(0, stripes.length));
  let audited = 0;
  for (const at of picked) {
    await auditStripe(volume, stripes[at].ref, report);
    options.onProgress?.(++audited, sample, 'audits');
  }
  return report;
}
