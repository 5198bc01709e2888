import { InvalidRecordError, LeaseConflictError, StaleHeadError, StoreUnavailableError } from './errors.js';
import type { HeadRecord, LeaseRecord } from './types.js';

/**
 * Heads and leases: validation, the compare-and-set rules every backend
 * applies (StoreBase calls them inside each backend's atomic update, so the
 * rules exist once), and the byte form the disk backends keep them in.
 */

export const MAX_HEAD_BODY_BYTES = 64 * 1024;
export const MAX_LEASE_HOLDER_CHARS = 200;

const VOLUME_ID = /^[0-9a-f]{32}$/;

/** What a store holds for one volume; either may be absent. */
export interface VolumeRecords {
  head?: HeadRecord;
  lease?: LeaseRecord;
}

export function checkVolumeId(storeId: string, value: unknown): string {
  if (typeof value === 'string' && VOLUME_ID.test(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
  throw new InvalidRecordError(storeId, `${shown} is not a volume id (32 lowercase hex characters)`);
}

/** A validated copy of `head`, made before anything asynchronous so the caller may reuse its body buffer. */
export function ownHead(storeId: string, head: unknown): HeadRecord {
  const record = asObject(storeId, 'head', head);
  const volumeId = checkVolumeId(storeId, record.volumeId);
  const epoch = count(storeId, 'head epoch', record.epoch);
  const seq = count(storeId, 'head seq', record.seq);
  const body = record.body;
  if (!(body instanceof Uint8Array) || body.length > MAX_HEAD_BODY_BYTES) {
    const shown = body instanceof Uint8Array ? `${body.length} bytes` : typeof body;
    throw new InvalidRecordError(
      storeId,
      `head body must be a Uint8Array of at most ${MAX_HEAD_BODY_BYTES} bytes, not ${shown}`,
    );
  }
  return { volumeId, epoch, seq, body: Uint8Array.from(body) };
}

export function ownLease(storeId: string, lease: unknown): LeaseRecord {
  const record = asObject(storeId, 'lease', lease);
  const volumeId = checkVolumeId(storeId, record.volumeId);
  const epoch = count(storeId, 'lease epoch', record.epoch);
  const holder = record.holder;
  if (typeof holder !== 'string' || holder.length === 0 || holder.length > MAX_LEASE_HOLDER_CHARS) {
    const shown = typeof holder === 'string' ? `${holder.length} characters` : typeof holder;
    throw new InvalidRecordError(
      storeId,
      `lease holder must be a string of 1 to ${MAX_LEASE_HOLDER_CHARS} characters, not ${shown}`,
    );
  }
  return { volumeId, epoch, holder, expiresAtMs: count(storeId, 'lease expiresAtMs', record.expiresAtMs) };
}

/**
 * The head rule (fencing, promise 4): what to write for `next` given what
 * the store holds, undefined for nothing, or StaleHeadError. An identical
 * re-put is a no-op even after a takeover: it changes nothing, and saying
 * so lets a writer retry a put whose answer it lost.
 */
export function headUpdate(storeId: string, held: VolumeRecords, next: HeadRecord): VolumeRecords | undefined {
  const { head, lease } = held;
  if (head !== undefined && sameHead(head, next)) return undefined;
  const highest = Math.max(head?.epoch ?? 0, lease?.epoch ?? 0);
  const refuse = (why: string) => new StaleHeadError(storeId, next, highest, head?.seq ?? null, why);
  if (next.epoch < highest) {
    const has =
      head?.epoch === highest ? `it has epoch ${highest} seq ${head.seq}` : `it has a lease at epoch ${highest}`;
    throw refuse(`${has} (a newer writer took over)`);
  }
  if (head !== undefined && next.epoch === head.epoch && next.seq <= head.seq) {
    const has = `it has epoch ${head.epoch} seq ${head.seq}`;
    throw refuse(
      next.seq === head.seq
        ? `${has} with a different body (each head needs a higher seq)`
        : `${has} (heads only move forward)`,
    );
  }
  return { head: next };
}

/** The lease rule: a first lease, a takeover with a higher epoch, or the holder renewing or releasing its own. */
export function leaseUpdate(storeId: string, held: VolumeRecords, next: LeaseRecord): VolumeRecords | undefined {
  const { lease } = held;
  if (lease === undefined || next.epoch > lease.epoch) return { lease: next };
  if (next.epoch === lease.epoch && next.holder === lease.holder) {
    return next.expiresAtMs === lease.expiresAtMs ? undefined : { lease: next };
  }
  throw new LeaseConflictError(storeId, next, lease);
}

/** A fresh copy for the caller, whatever buffer type the backend kept. */
export function copyHead(head: HeadRecord): HeadRecord {
  return { volumeId: head.volumeId, epoch: head.epoch, seq: head.seq, body: Uint8Array.from(head.body) };
}

export function copyLease(lease: LeaseRecord): LeaseRecord {
  return { volumeId: lease.volumeId, epoch: lease.epoch, holder: lease.holder, expiresAtMs: lease.expiresAtMs };
}

// The disk form is JSON (body in base64): a few hundred bytes to 88 KiB,
// written rarely, and readable when someone has to look at a store by hand.

export function encodeHead(head: HeadRecord): Uint8Array {
  const { volumeId, epoch, seq } = head;
  return utf8({ volumeId, epoch, seq, body: Buffer.from(head.body).toString('base64') });
}

export function encodeLease(lease: LeaseRecord): Uint8Array {
  const { volumeId, epoch, holder, expiresAtMs } = lease;
  return utf8({ volumeId, epoch, holder, expiresAtMs });
}

/** Decodes a stored head, checking it belongs to `volumeId`; damage makes the store unavailable for it. */
export function decodeHead(storeId: string, volumeId: string, bytes: Uint8Array): HeadRecord {
  return decode(storeId, 'head', volumeId, bytes, (json) => {
    const body = typeof json.body === 'string' ? Buffer.from(json.body, 'base64') : undefined;
    return ownHead(storeId, { ...json, body });
  });
}

export function decodeLease(storeId: string, volumeId: string, bytes: Uint8Array): LeaseRecord {
  return decode(storeId, 'lease', volumeId, bytes, (json) => ownLease(storeId, json));
}

function decode<T extends { volumeId: string }>(
  storeId: string,
  kind: string,
  volumeId: string,
  bytes: Uint8Array,
  build: (json: Record<string, unknown>) => T,
): T {
  let record: T;
  try {
    record = build(JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>);
  } catch (error) {
    throw new StoreUnavailableError(storeId, `its ${kind} record for volume ${volumeId} is damaged`, { cause: error });
  }
  if (record.volumeId !== volumeId) {
    const why = `its ${kind} record for volume ${volumeId} names volume ${record.volumeId}`;
    throw new StoreUnavailableError(storeId, why);
  }
  return record;
}

function utf8(value: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function sameHead(a: HeadRecord, b: HeadRecord): boolean {
  return a.epoch === b.epoch && a.seq === b.seq && Buffer.compare(a.body, b.body) === 0;
}

function asObject(storeId: string, kind: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    throw new InvalidRecordError(storeId, `a ${kind} must be an object, not ${value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

function count(storeId: string, what: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new InvalidRecordError(storeId, `${what} must be a non-negative safe integer, not ${String(value)}`);
}
