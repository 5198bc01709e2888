/**
 * A peer's directory: `peer.json` (0600: its key seed, zone, capacity and
 * join info) and `store/`, the FileStore holding its shards and volume records.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyPair } from 'hyperdht';
import { hyperdht } from './dht.js';
import { writeFileAtomic } from '../cluster/home.js';
import { UsageError } from '../errors/index.js';
import { type JoinInfo, checkJoinInfo } from './join.js';

export interface PeerState {
  version: 1;
  /** 64 hex characters: the seed of the peer's Noise keypair. */
  seed: string;
  zone: string;
  /** Bytes of shards accepted; null for no limit. */
  capacity: number | null;
  join: JoinInfo;
}

export const statePath = (dir: string) => join(dir, 'peer.json');
export const storeDir = (dir: string) => join(dir, 'store');

export function peerKeyPair(state: PeerState): KeyPair {
  return hyperdht().keyPair(Buffer.from(state.seed, 'hex'));
}

async function readState(dir: string): Promise<PeerState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const where = statePath(dir);
  let v: Partial<PeerState>;
  try {
    v = JSON.parse(text) as Partial<PeerState>;
  } catch {
    throw new UsageError(`${where} is not JSON; restore it from a backup or start a new peer in an empty directory`);
  }
  if (v.version !== 1 || typeof v.seed !== 'string' || !/^[0-9a-f]{64}$/.test(v.seed) || typeof v.zone !== 'string') {
    throw new UsageError(`${where} is not a Cairn peer state file (version 1)`);
  }
  return { version: 1, seed: v.seed, zone: v.zone, capacity: v.capacity ?? null, join: checkJoinInfo(v.join, where) };
}

/**
 * The state of the peer in `dir`, made on first start from `join` (required
 * then); `zone` and `capacity` given now replace the stored ones.
 */
export async function loadOrCreateState(
  dir: string,
  given: { join?: JoinInfo; zone?: string; capacity?: number | null },
): Promise<PeerState> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const held = await readState(dir);
  if (!held && !given.join) {
    throw new UsageError(`${dir} holds no peer yet: give --join-file FILE (made by \`cairn peer invite\` on a keyring machine)`);
  }
  const state: PeerState = {
    version: 1,
    seed: held?.seed ?? randomBytes(32).toString('hex'),
    zone: given.zone ?? held?.zone ?? 'default',
    capacity: given.capacity !== undefined ? given.capacity : (held?.capacity ?? null),
    join: given.join ?? held!.join,
  };
  await writeFileAtomic(statePath(dir), new TextEncoder().encode(`${JSON.stringify(state, null, 2)}\n`));
  return state;
}
