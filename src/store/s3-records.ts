import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from './errors.js';
import { BucketUnavailableError } from './s3-errors.js';
import { decodeHead, decodeLease, encodeHead, encodeLease, type VolumeRecords } from './records.js';
import type { BucketObjects } from './s3-objects.js';
import type { HeadRecord, LeaseRecord } from './types.js';

/**
 * Heads and leases on a bucket (docs/BUCKETS.md, "Heads and leases"). Two
 * layouts, chosen once per bucket and prefix and written in its `layout`
 * object so every machine uses the same one:
 *
 * - `conditional`, where the server honours If-Match and If-None-Match on
 *   PUT: one object per volume holding its head and lease, replaced by
 *   compare-and-set on its ETag.
 * - `epochs`, where it does not (s3rver): objects that are never
 *   overwritten by anyone but their writer, one per lease claim and one per
 *   head, named by epoch (and seq). A writer writes its object, then reads
 *   the others again and withdraws its own if the rule no longer holds.
 *   Since S3 reads its writes, of two racing writers at least one sees the
 *   other, so an old writer's head never survives a takeover it did not see
 *   and no epoch is held by two claimants.
 */
export type RecordsMode = 'conditional' | 'epochs';

export const LAYOUT_KEY = 'layout';
const LAYOUT_FORMAT = 1;

type Decide = (held: VolumeRecords) => VolumeRecords | undefined;

/** A record object listed a moment ago was removed since (a writer collected it). */
class Moved extends Error {}

const LOOKS = 5;

/**
 * Reads again when what was read is not settled: an object listed a moment
 * ago and gone since, or one that does not parse (a server without atomic
 * PUT, such as s3rver, can show a write in progress). Still so after LOOKS
 * reads, the damage is real and reported.
 */
async function settled<T>(storeId: string, what: string, read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let look = 1; ; look++) {
    try {
      return await read();
    } catch (error) {
      const damaged = error instanceof StoreUnavailableError && !(error instanceof BucketUnavailableError);
      if (!(error instanceof Moved) && !damaged) throw error;
      if (look >= LOOKS) throw damaged ? error : new StoreUnavailableError(storeId, `${what} kept moving`);
      await sleep(10 * look, undefined, { signal });
    }
  }
}

export interface VolumeRecordsStore {
  readonly mode: RecordsMode;
  read(volumeId: string, signal?: AbortSignal): Promise<VolumeRecords>;
  /** Read, decide, write: as one step against every other writer of the volume's records. */
  update(volumeId: string, decide: Decide, signal?: AbortSignal): Promise<void>;
  /** Deletes every object of the volume's records. */
  remove(volumeId: string, signal?: AbortSignal): Promise<void>;
}

/**
 * The bucket's records by its layout record; without one, undefined, or with
 * `create` (first use) finds out what the server supports and writes it.
 */
export async function openRecords(
  objects: BucketObjects,
  storeId: string,
  { create, signal }: { create: boolean; signal?: AbortSignal },
): Promise<VolumeRecordsStore | undefined> {
  let mode = await readLayout(objects, storeId, signal);
  if (mode === undefined) {
    if (!create) return undefined;
    const probed: RecordsMode = (await conditionalWritesWork(objects, signal)) ? 'conditional' : 'epochs';
    const bytes = new TextEncoder().encode(JSON.stringify({ format: LAYOUT_FORMAT, records: probed }));
    // Where it can, only the first writer's layout stands; without conditions, racing first users probed the same server.
    const written = await objects.put(LAYOUT_KEY, bytes, 'the layout record', {
      signal,
      ifNoneMatch: probed === 'conditional' ? '*' : undefined,
    });
    mode = written ? probed : await readLayout(objects, storeId, signal);
    if (mode === undefined) throw new StoreUnavailableError(storeId, 'its layout record vanished while it was being created');
  }
  return mode === 'conditional' ? new ConditionalRecords(objects, storeId) : new EpochRecords(objects, storeId);
}

function readLayout(objects: BucketObjects, storeId: string, signal?: AbortSignal): Promise<RecordsMode | undefined> {
  return settled(storeId, 'the layout record', () => readLayoutOnce(objects, storeId, signal), signal);
}

async function readLayoutOnce(objects: BucketObjects, storeId: string, signal?: AbortSignal): Promise<RecordsMode | undefined> {
  const found = await objects.get(LAYOUT_KEY, 'the layout record', signal);
  if (found === undefined) return undefined;
  let layout: { format?: unknown; records?: unknown };
  try {
    layout = JSON.parse(Buffer.from(found.bytes).toString('utf8')) as typeof layout;
  } catch (error) {
    throw new StoreUnavailableError(storeId, `its layout record is damaged`, { cause: error });
  }
  if (layout.format !== LAYOUT_FORMAT) {
    throw new StoreUnavailableError(storeId, `its layout record has format ${String(layout.format)}; this Cairn reads format ${LAYOUT_FORMAT}`);
  }
  if (layout.records !== 'conditional' && layout.records !== 'epochs') {
    throw new StoreUnavailableError(storeId, `its layout record names records "${String(layout.records)}", which this Cairn does not know`);
  }
  return layout.records;
}

/**
 * Writes a scratch object, then tries to overwrite it under conditions that
 * do not hold: a server that honours them refuses both. The scratch object
 * is removed whatever happens.
 */
export async function conditionalWritesWork(objects: BucketObjects, signal?: AbortSignal): Promise<boolean> {
  const key = `probe-${randomBytes(8).toString('hex')}`;
  const bytes = new Uint8Array(0);
  try {
    await objects.put(key, bytes, 'a probe object', { signal });
    const noneMatch = await objects.put(key, bytes, 'a probe object', { signal, ifNoneMatch: '*' });
    const match = await objects.put(key, bytes, 'a probe object', { signal, ifMatch: `"${'0'.repeat(32)}"` });
    return !noneMatch && !match;
  } finally {
    await objects.delete(key, 'a probe object');
  }
}

const volumeKey = (volumeId: string) => `volumes/${volumeId}`;

/**
 * How often a compare-and-set that keeps losing to other writers is tried
 * before giving up. A writer that wins puts again at once, so a takeover
 * racing a busy old writer may lose many rounds in a row on a loaded machine
 * (20 was seen to run out in CI); the backoff is capped, so 40 tries stay
 * within about two seconds.
 */
const CAS_TRIES = 40;
const CAS_BACKOFF_MAX_MS = 100;

/** What both layouts work with: the bucket's objects, and the store's id for errors. */
abstract class RecordsOn {
  constructor(
    protected readonly objects: BucketObjects,
    protected readonly storeId: string,
  ) {}
}

class ConditionalRecords extends RecordsOn implements VolumeRecordsStore {
  readonly mode = 'conditional';

  async read(volumeId: string, signal?: AbortSignal): Promise<VolumeRecords> {
    return (await this.#get(volumeId, signal)).records;
  }

  async update(volumeId: string, decide: Decide, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; attempt <= CAS_TRIES; attempt++) {
      const { records, etag } = await this.#get(volumeId, signal);
      const change = decide(records);
      if (change === undefined) return;
      const next = { ...records, ...change };
      const conditions = etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag };
      if (await this.objects.put(volumeKey(volumeId), encodeRecords(next), `the records of volume ${volumeId}`, { signal, ...conditions })) {
        return;
      }
      await sleep(Math.random() * Math.min(10 * attempt, CAS_BACKOFF_MAX_MS), undefined, { signal });
    }
    throw new StoreUnavailableError(this.storeId, `the records of volume ${volumeId} kept changing under ${CAS_TRIES} updates in a row`);
  }

  async remove(volumeId: string, signal?: AbortSignal): Promise<void> {
    await this.objects.delete(volumeKey(volumeId), `the records of volume ${volumeId}`, signal);
  }

  #get(volumeId: string, signal?: AbortSignal): Promise<{ records: VolumeRecords; etag?: string }> {
    const what = `the records of volume ${volumeId}`;
    return settled(
      this.storeId,
      what,
      async () => {
        const found = await this.objects.get(volumeKey(volumeId), what, signal);
        if (found === undefined) return { records: {} };
        return { records: decodeRecords(this.storeId, volumeId, found.bytes), etag: found.etag };
      },
      signal,
    );
  }
}

/** `{"head":<head JSON>,"lease":<lease JSON>}`, either absent, in the JSON forms of records.ts. */
function encodeRecords(records: VolumeRecords): Uint8Array {
  const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
  const parts = [
    ...(records.head ? [`"head":${text(encodeHead(records.head))}`] : []),
    ...(records.lease ? [`"lease":${text(encodeLease(records.lease))}`] : []),
  ];
  return new TextEncoder().encode(`{${parts.join(',')}}`);
}

function decodeRecords(storeId: string, volumeId: string, bytes: Uint8Array): VolumeRecords {
  let json: { head?: unknown; lease?: unknown };
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof json;
  } catch (error) {
    throw new StoreUnavailableError(storeId, `its records object for volume ${volumeId} is damaged`, { cause: error });
  }
  const part = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  return {
    head: json.head === undefined ? undefined : decodeHead(storeId, volumeId, part(json.head)),
    lease: json.lease === undefined ? undefined : decodeLease(storeId, volumeId, part(json.lease)),
  };
}

// ---- epochs: objects named by epoch, written without conditions ----

const digits = (n: number) => String(n).padStart(16, '0');
const hex = (text: string | Uint8Array, chars: number) => createHash('sha256').update(text).digest('hex').slice(0, chars);
const HEAD_KEY = /^head\/(\d{16})-(\d{16})-([0-9a-f]{16})$/;
const LEASE_KEY = /^lease\/(\d{16})-([0-9a-f]{32})$/;

interface HeadEntry {
  key: string;
  epoch: number;
  seq: number;
}

interface LeaseEntry {
  key: string;
  epoch: number;
}

/** The keys of one volume's records, relative to `volumes/<id>/`. */
interface Snapshot {
  heads: HeadEntry[];
  leases: LeaseEntry[];
}

function headKey(head: HeadRecord): string {
  return `head/${digits(head.epoch)}-${digits(head.seq)}-${hex(head.body, 16)}`;
}

/** One claim per holder per epoch; the holder's id is opaque, so the key has a hash of it. */
function leaseKey(lease: LeaseRecord): string {
  return `lease/${digits(lease.epoch)}-${hex(lease.holder, 32)}`;
}

const byHead = (a: HeadEntry, b: HeadEntry) => a.epoch - b.epoch || a.seq - b.seq || (a.key < b.key ? -1 : 1);

class EpochRecords extends RecordsOn implements VolumeRecordsStore {
  readonly mode = 'epochs';

  async read(volumeId: string, signal?: AbortSignal): Promise<VolumeRecords> {
    return (await this.#look(volumeId, {}, signal)).records;
  }

  async update(volumeId: string, decide: Decide, signal?: AbortSignal): Promise<void> {
    const before = await this.#look(volumeId, {}, signal);
    const change = decide(before.records);
    if (change === undefined) return;
    const record = change.head ?? change.lease!;
    const key = change.head ? headKey(change.head) : leaseKey(change.lease!);
    const existed = [...before.snapshot.heads, ...before.snapshot.leases].some((e) => e.key === key);
    const bytes = change.head ? encodeHead(change.head) : encodeLease(change.lease!);
    await this.objects.put(this.#path(volumeId, key), bytes, `the records of volume ${volumeId}`, { signal });
    // The check again, against everyone else's records as they are now.
    const after = await this.#look(volumeId, { exclude: key }, signal);
    try {
      decide(after.records);
    } catch (error) {
      // A lease claim made just now is withdrawn; a holder's renewed claim stays (its rival withdraws).
      if (change.head || !existed) await this.objects.delete(this.#path(volumeId, key), 'a withdrawn record').catch(() => undefined);
      throw error;
    }
    await this.#collect(volumeId, after.snapshot, record.epoch, change.head);
  }

  async remove(volumeId: string, signal?: AbortSignal): Promise<void> {
    const keys = await this.objects.listAll(`${volumeKey(volumeId)}/`, signal);
    await Promise.all(keys.map(({ key }) => this.objects.delete(key, `the records of volume ${volumeId}`, signal)));
  }

  /** Removes what the record just written supersedes: older heads, and claims of older epochs. */
  async #collect(volumeId: string, snapshot: Snapshot, epoch: number, head?: HeadRecord): Promise<void> {
    const stale = [
      ...snapshot.leases.filter((l) => l.epoch < epoch).map((l) => l.key),
      ...(head ? snapshot.heads.filter((h) => byHead(h, { key: '', epoch: head.epoch, seq: head.seq }) < 0).map((h) => h.key) : []),
    ];
    // Best effort: what is left is collected by the next update.
    await Promise.all(stale.map((key) => this.objects.delete(this.#path(volumeId, key), 'a superseded record').catch(() => undefined)));
  }

  #path(volumeId: string, key: string): string {
    return `${volumeKey(volumeId)}/${key}`;
  }

  /** The volume's records as they stand: its highest head and its claim of the highest epoch. */
  #look(volumeId: string, options: { exclude?: string }, signal?: AbortSignal): Promise<{ records: VolumeRecords; snapshot: Snapshot }> {
    return settled(
      this.storeId,
      `the records of volume ${volumeId}`,
      async () => {
        const snapshot = await this.#list(volumeId, signal);
        return { records: await this.#load(volumeId, snapshot, options.exclude, signal), snapshot };
      },
      signal,
    );
  }

  async #list(volumeId: string, signal?: AbortSignal): Promise<Snapshot> {
    const base = `${volumeKey(volumeId)}/`;
    const snapshot: Snapshot = { heads: [], leases: [] };
    for (const { key: full } of await this.objects.listAll(base, signal)) {
      const key = full.slice(base.length);
      const head = HEAD_KEY.exec(key);
      const lease = LEASE_KEY.exec(key);
      if (head) snapshot.heads.push({ key, epoch: Number(head[1]), seq: Number(head[2]) });
      else if (lease) snapshot.leases.push({ key, epoch: Number(lease[1]) });
    }
    return snapshot;
  }

  async #load(volumeId: string, snapshot: Snapshot, exclude: string | undefined, signal?: AbortSignal): Promise<VolumeRecords> {
    const heads = snapshot.heads.filter((h) => h.key !== exclude).sort(byHead);
    const leases = snapshot.leases.filter((l) => l.key !== exclude);
    const top = heads.at(-1);
    // Claims racing for one epoch are resolved by their writers; until then, any of them stands for that epoch.
    const claim = leases.reduce<LeaseEntry | undefined>((best, l) => (!best || l.epoch > best.epoch || (l.epoch === best.epoch && l.key < best.key) ? l : best), undefined);
    const fetch = async (key: string) => {
      const found = await this.objects.get(this.#path(volumeId, key), `the records of volume ${volumeId}`, signal);
      if (found === undefined) throw new Moved();
      return found.bytes;
    };
    const [head, lease] = await Promise.all([
      top && fetch(top.key).then((bytes) => decodeHead(this.storeId, volumeId, bytes)),
      claim && fetch(claim.key).then((bytes) => decodeLease(this.storeId, volumeId, bytes)),
    ]);
    return { head, lease };
  }
}
