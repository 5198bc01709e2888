import { describe, expect, it } from 'vitest';
import {
  type HeadRecord,
  InvalidRecordError,
  LeaseConflictError,
  type LeaseRecord,
  MAX_HEAD_BODY_BYTES,
  MAX_LEASE_HOLDER_CHARS,
  type ShardStore,
  StaleHeadError,
} from '../../src/store/index.js';
import { randomBytes, rng, TEST_SEED } from '../helpers/random.js';
import type { StoreClaims, Using } from './conformance.js';
import { expectError, failure, hook, same } from './expect.js';

/**
 * The head and lease part of the ShardStore contract (fencing, promise 4),
 * registered by shardStoreConformance for every backend.
 */
export function recordConformance(name: string, using: Using, claims: StoreClaims): void {
  const next = rng(TEST_SEED + 1);
  const volume = () => Buffer.from(randomBytes(next, 16)).toString('hex');
  const head = (volumeId: string, epoch: number, seq: number, text = `head ${epoch}.${seq}`): HeadRecord => ({
    volumeId,
    epoch,
    seq,
    body: new TextEncoder().encode(text),
  });
  const lease = (volumeId: string, epoch: number, holder: string, expiresAtMs = 1_700_000_000_000): LeaseRecord => ({
    volumeId,
    epoch,
    holder,
    expiresAtMs,
  });
  const expectHead = async (store: ShardStore, expected: HeadRecord) => {
    const got = await store.getHead(expected.volumeId);
    expect(got).toMatchObject({ volumeId: expected.volumeId, epoch: expected.epoch, seq: expected.seq });
    expect(same(got!.body, expected.body)).toBe(true);
  };
  const stale = async (attempt: Promise<unknown>) => {
    const error = await failure(attempt);
    expectError(error, StaleHeadError, 'store.stale-head');
    return error as StaleHeadError;
  };
  const conflict = async (attempt: Promise<unknown>) => {
    const error = await failure(attempt);
    expectError(error, LeaseConflictError, 'store.lease-conflict');
    return error as LeaseConflictError;
  };

  describe('heads and leases', () => {
    it(
      'a volume starts with no head and no lease',
      using({}, async ({ store }) => {
        const v = volume();
        expect(await store.getHead(v)).toBeUndefined();
        expect(await store.getLease(v)).toBeUndefined();
      }),
    );

    it(
      'accepts a first head, keeps its own copy and hands out fresh ones',
      using({}, async ({ store }) => {
        const first = head(volume(), 1, 1, 'signed head bytes');
        const body = first.body.slice();
        const put = store.putHead(first);
        first.body.fill(0);
        await put;
        const got = await store.getHead(first.volumeId);
        expect(got).toEqual({ volumeId: first.volumeId, epoch: 1, seq: 1, body });
        got!.body.fill(0);
        expect(same((await store.getHead(first.volumeId))!.body, body)).toBe(true);
      }),
    );

    it(
      'moves forward only: a higher seq is accepted, a lower one or the same seq with another body refused',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putHead(head(v, 2, 5));
        await store.putHead(head(v, 2, 6));
        await expectHead(store, head(v, 2, 6));

        const lower = await stale(store.putHead(head(v, 2, 4)));
        expect(lower).toMatchObject({ epoch: 2, seq: 4, currentEpoch: 2, currentSeq: 6, volumeId: v });
        expect(lower.message).toContain(`head epoch 2 seq 4 of volume ${v.slice(0, 12)}`);
        expect(lower.message).toContain(`refused by store ${store.id}: it has epoch 2 seq 6`);

        const forked = await stale(store.putHead(head(v, 2, 6, 'another body')));
        expect(forked).toMatchObject({ currentEpoch: 2, currentSeq: 6 });
        expect(forked.message).toMatch(/different body/);
        await expectHead(store, head(v, 2, 6));
      }),
    );

    it(
      're-putting the identical current head succeeds and changes nothing',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putHead(head(v, 3, 1));
        await store.putHead(head(v, 3, 1));
        await Promise.all([store.putHead(head(v, 3, 1)), store.putHead(head(v, 3, 1))]);
        await expectHead(store, head(v, 3, 1));
      }),
    );

    it(
      'fences: a higher epoch is accepted with any seq, then every head of the old epoch is refused',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putHead(head(v, 3, 8));
        await store.putHead(head(v, 4, 2));
        await expectHead(store, head(v, 4, 2));

        const old = await stale(store.putHead(head(v, 3, 9)));
        expect(old).toMatchObject({ epoch: 3, seq: 9, currentEpoch: 4, currentSeq: 2 });
        expect(old.message).toContain(
          `head epoch 3 seq 9 of volume ${v.slice(0, 12)}… refused by store ${store.id}: ` +
            'it has epoch 4 seq 2 (a newer writer took over)',
        );
        await stale(store.putHead(head(v, 3, 1000)));
        await stale(store.putHead(head(v, 0, 0)));
        await store.putHead(head(v, 4, 3));
        await expectHead(store, head(v, 4, 3));
      }),
    );

    it(
      'keeps volumes apart',
      using({}, async ({ store }) => {
        const [a, b] = [volume(), volume()];
        await store.putHead(head(a, 9, 9));
        await store.putLease(lease(a, 9, 'mount-a'));
        await store.putHead(head(b, 1, 1));
        await store.putLease(lease(b, 1, 'mount-b'));
        await expectHead(store, head(b, 1, 1));
        expect(await store.getLease(b)).toEqual(lease(b, 1, 'mount-b'));
        await expectHead(store, head(a, 9, 9));
      }),
    );

    it(
      'leases: acquire, renew, refuse another holder with the current lease, take over with a higher epoch',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putLease(lease(v, 1, 'mount-a', 1000));
        expect(await store.getLease(v)).toEqual(lease(v, 1, 'mount-a', 1000));
        await store.putLease(lease(v, 1, 'mount-a', 5000));
        await store.putLease(lease(v, 1, 'mount-a', 5000));
        expect(await store.getLease(v)).toEqual(lease(v, 1, 'mount-a', 5000));

        const taken = await conflict(store.putLease(lease(v, 1, 'mount-b', 9000)));
        expect(taken.current).toEqual(lease(v, 1, 'mount-a', 5000));
        expect(taken.attempted).toEqual(lease(v, 1, 'mount-b', 9000));
        expect(taken.message).toContain(store.id);
        expect(taken.message).toContain('"mount-a" holds it at epoch 1 until 1970-01-01T00:00:05.000Z');
        expect(taken.message).toContain('"mount-b"');

        const older = await conflict(store.putLease(lease(v, 0, 'mount-a', 9000)));
        expect(older.current).toEqual(lease(v, 1, 'mount-a', 5000));

        await store.putLease(lease(v, 2, 'mount-b', 9000));
        expect(await store.getLease(v)).toEqual(lease(v, 2, 'mount-b', 9000));
        const fenced = await conflict(store.putLease(lease(v, 1, 'mount-a', 6000)));
        expect(fenced.current).toMatchObject({ holder: 'mount-b', epoch: 2, expiresAtMs: 9000 });
      }),
    );

    it(
      'a clean release keeps the epoch: only its holder renews it; anyone else takes over with a higher epoch',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putLease(lease(v, 5, 'mount-a', 9000));
        await store.putLease(lease(v, 5, 'mount-a', 0));
        expect(await store.getLease(v)).toEqual(lease(v, 5, 'mount-a', 0));
        const error = await conflict(store.putLease(lease(v, 5, 'mount-b')));
        expect(error.message).toContain('"mount-a" released it at epoch 5');
        await store.putLease(lease(v, 5, 'mount-a', 100));
        await store.putLease(lease(v, 6, 'mount-b'));
        expect((await store.getLease(v))?.holder).toBe('mount-b');
      }),
    );

    it(
      'a lease fences heads: below its epoch refused, at its epoch accepted',
      using({}, async ({ store }) => {
        const v = volume();
        await store.putHead(head(v, 1, 40));
        await store.putLease(lease(v, 2, 'mount-b'));
        const error = await stale(store.putHead(head(v, 1, 41)));
        expect(error).toMatchObject({ currentEpoch: 2, currentSeq: 40 });
        expect(error.message).toContain('it has a lease at epoch 2 (a newer writer took over)');
        await expectHead(store, head(v, 1, 40));

        await store.putHead(head(v, 2, 1));
        await expectHead(store, head(v, 2, 1));
        const fresh = volume();
        await store.putLease(lease(fresh, 7, 'mount-c'));
        await stale(store.putHead(head(fresh, 6, 1)));
        await store.putHead(head(fresh, 7, 0));
      }),
    );

    it(
      'lets exactly one of racing writers win',
      using({}, async ({ store }) => {
        const v = volume();
        const heads = Array.from({ length: 8 }, (_, i) => head(v, 1, 1, `writer ${i}`));
        const outcomes = await Promise.allSettled(heads.map((h) => store.putHead(h)));
        const won = heads.filter((_, i) => outcomes[i].status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expectError(outcome.reason, StaleHeadError, 'store.stale-head');
        }
        await expectHead(store, won[0]);

        const leases = Array.from({ length: 8 }, (_, i) => lease(v, 3, `mount-${i}`));
        const taken = await Promise.allSettled(leases.map((l) => store.putLease(l)));
        const holders = leases.filter((_, i) => taken[i].status === 'fulfilled');
        expect(holders).toHaveLength(1);
        expect(await store.getLease(v)).toEqual(holders[0]);
      }),
    );

    it(
      'rejects invalid records and volume ids with InvalidRecordError, storing nothing',
      using({}, async ({ store }) => {
        const v = volume();
        const badVolumes = ['', v.toUpperCase(), v.slice(1), `${v}0`, `../${v.slice(3)}`, 7, undefined, null];
        const badCounts = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '3', undefined];
        const heads: unknown[] = [
          undefined,
          null,
          'head',
          ...badVolumes.map((volumeId) => ({ ...head(v, 1, 1), volumeId })),
          ...badCounts.map((epoch) => ({ ...head(v, 1, 1), epoch })),
          ...badCounts.map((seq) => ({ ...head(v, 1, 1), seq })),
          { ...head(v, 1, 1), body: new Uint8Array(MAX_HEAD_BODY_BYTES + 1) },
          { ...head(v, 1, 1), body: 'text' },
          { ...head(v, 1, 1), body: [1, 2, 3] },
        ];
        const leases: unknown[] = [
          undefined,
          null,
          ...badVolumes.map((volumeId) => ({ ...lease(v, 1, 'm'), volumeId })),
          ...badCounts.map((epoch) => ({ ...lease(v, 1, 'm'), epoch })),
          ...badCounts.map((expiresAtMs) => ({ ...lease(v, 1, 'm'), expiresAtMs })),
          lease(v, 1, ''),
          lease(v, 1, 'x'.repeat(MAX_LEASE_HOLDER_CHARS + 1)),
          { ...lease(v, 1, 'm'), holder: 42 },
        ];
        const attempts = [
          ...heads.map((h) => store.putHead(h as HeadRecord)),
          ...leases.map((l) => store.putLease(l as LeaseRecord)),
          ...badVolumes.flatMap((id) => [store.getHead(id as string), store.getLease(id as string), store.deleteRecords(id as string)]),
        ];
        for (const attempt of attempts) {
          const error = await failure(attempt);
          expectError(error, InvalidRecordError, 'store.invalid-record');
          expect(error.message).toContain(store.id);
        }
        expect(await store.getHead(v)).toBeUndefined();
        expect(await store.getLease(v)).toBeUndefined();

        // The limits themselves are fine.
        const big = { ...head(v, 0, 0), body: new Uint8Array(MAX_HEAD_BODY_BYTES).fill(7) };
        await store.putHead(big);
        await expectHead(store, big);
        await store.putLease(lease(v, Number.MAX_SAFE_INTEGER, 'x'.repeat(MAX_LEASE_HOLDER_CHARS), 0));
        await store.putHead({ ...head(v, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), body: new Uint8Array() });
      }),
    );

    it(
      'deleteRecords forgets one volume\'s head and lease, idempotently, and no other volume\'s',
      using({}, async ({ store }) => {
        const [gone, kept] = [volume(), volume()];
        for (const v of [gone, kept]) {
          await store.putLease(lease(v, 3, 'mount-a'));
          await store.putHead(head(v, 3, 7));
        }
        await store.deleteRecords(gone);
        expect(await store.getHead(gone)).toBeUndefined();
        expect(await store.getLease(gone)).toBeUndefined();
        await store.deleteRecords(gone);
        await store.deleteRecords(volume());
        await expectHead(store, head(kept, 3, 7));
        expect(await store.getLease(kept)).toEqual(lease(kept, 3, 'mount-a'));
        // Nothing is remembered of it: a first lease and head are taken again.
        await store.putLease(lease(gone, 1, 'mount-b'));
        await store.putHead(head(gone, 1, 1));
        await expectHead(store, head(gone, 1, 1));
      }),
    );

    it(
      'heads and leases are neither shards nor bytes: stat and list do not see them',
      using({}, async ({ store }) => {
        for (let i = 0; i < 5; i++) {
          const v = volume();
          await store.putHead({ ...head(v, 1, 1), body: new Uint8Array(1000) });
          await store.putLease(lease(v, 1, 'mount'));
        }
        expect((await store.stat()).used).toBe(0);
        expect((await store.stat()).shards).toBe(0);
        expect(await store.list()).toEqual({ ids: [] });
      }),
    );

    if (claims.persistent) {
      it(
        'keeps heads and leases across reopen, and keeps fencing after it',
        using({}, async (h) => {
          const reopen = hook(name, h.reopen, 'reopen');
          const v = volume();
          const kept = { ...head(v, 4, 12), body: Uint8Array.from(randomBytes(next, 3000)) };
          await h.store.putHead(kept);
          await h.store.putLease(lease(v, 5, 'mount-z', 123_456));
          const store = await reopen.call(h);
          await expectHead(store, kept);
          expect(await store.getLease(v)).toEqual(lease(v, 5, 'mount-z', 123_456));
          await stale(store.putHead(head(v, 4, 13)));
          await conflict(store.putLease(lease(v, 5, 'mount-y')));
          await store.putHead(head(v, 5, 1));
        }),
      );
    }
  });
}
