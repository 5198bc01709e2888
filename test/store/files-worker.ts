/**
 * One process of the FileStore multi-process tests (files.test.ts starts
 * several through workers.ts). It opens the store, prints "ready", waits for
 * "go" on stdin so all processes start together, runs its task and prints
 * the outcome as one JSON line.
 */
import { once } from 'node:events';
import { FileStore, LeaseConflictError, StaleHeadError } from '../../src/store/index.js';
import { type HeadsOutcome, labelledShard, type LeasesOutcome, type ShardsOutcome, type Task } from './workers.js';

async function shards(store: FileStore, task: Extract<Task, { kind: 'shards' }>): Promise<ShardsOutcome> {
  const own = Array.from({ length: task.own }, (_, i) => labelledShard(`${task.name} ${i}`));
  const shared = Array.from({ length: task.shared }, (_, i) => labelledShard(`shared ${i}`));
  // Interleaved so both processes write the shared shards at the same moments.
  const all = own.flatMap((shard, i) => (i < shared.length ? [shard, shared[i]] : [shard]));
  await Promise.all(all.map(({ id, bytes }) => store.put(id, bytes)));
  for (const { id, bytes } of [...own, ...shared]) {
    if (Buffer.compare(await store.get(id), bytes) !== 0) throw new Error(`shard ${id} read back wrong`);
  }
  const deleted = own.filter((_, i) => i % 3 === 0);
  await Promise.all(deleted.map(({ id }) => store.delete(id)));
  return {
    kept: own.filter((_, i) => i % 3 !== 0).map((s) => s.id),
    deleted: deleted.map((s) => s.id),
    shared: shared.map((s) => s.id),
  };
}

async function leases(store: FileStore, task: Extract<Task, { kind: 'leases' }>): Promise<LeasesOutcome> {
  const outcome: LeasesOutcome = { takeovers: [], renewals: [], conflicts: 0 };
  const attempt = async (epoch: number, expiresAtMs: number, into: number[]) => {
    try {
      await store.putLease({ volumeId: task.volumeId, epoch, holder: task.holder, expiresAtMs });
      into.push(epoch);
    } catch (error) {
      if (!(error instanceof LeaseConflictError)) throw error;
      outcome.conflicts++;
    }
  };
  for (let round = 1; round <= task.rounds; round++) {
    const current = await store.getLease(task.volumeId);
    const epoch = (current?.epoch ?? 0) + 1;
    await attempt(epoch, round, outcome.takeovers);
    await attempt(epoch, round + 1000, outcome.renewals);
  }
  return outcome;
}

async function heads(store: FileStore, task: Extract<Task, { kind: 'heads' }>): Promise<HeadsOutcome> {
  const outcome: HeadsOutcome = { accepted: [], refused: 0 };
  for (let round = 0; round < task.rounds; round++) {
    const seq = ((await store.getHead(task.volumeId))?.seq ?? 0) + 1;
    const body = new TextEncoder().encode(`${task.name} ${seq}`);
    try {
      await store.putHead({ volumeId: task.volumeId, epoch: 1, seq, body });
      outcome.accepted.push(seq);
    } catch (error) {
      if (!(error instanceof StaleHeadError)) throw error;
      outcome.refused++;
    }
  }
  return outcome;
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2]) as Task;
  const store = await FileStore.open(task.dir);
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  const outcome =
    task.kind === 'shards'
      ? await shards(store, task)
      : task.kind === 'leases'
        ? await leases(store, task)
        : await heads(store, task);
  await store.close();
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  process.stdin.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
