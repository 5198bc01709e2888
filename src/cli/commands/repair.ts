import type { Command } from 'commander';
import { join } from 'node:path';
import { type BackendSpec, CATALOG_STORES, type CatalogEntry, formatBackendSpec, parseBackendSpec } from '../../cluster/index.js';
import { GcError, RepairError, type RepairReport, type ScrubReport, collectGarbage, repairVolume, scrubVolume } from '../../repair/index.js';
import { type Volume, VolumeBusyError } from '../../volume/index.js';
import { asFlag, parseCount, parseDurationOrZero } from '../parse.js';
import { progressBar } from '../progress.js';
import { openSession, openVolume } from '../session.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function repairSummary(r: RepairReport): string {
  return (
    `${r.stripes} stripes checked, ${r.degraded} short of n: ${r.repaired} repaired (${r.shardsRebuilt} shards rebuilt, ${mib(r.bytesMoved)} moved)` +
    (r.pending ? `, ${r.pending} still short (a store within its grace period, or no store to place on)` : '') +
    (r.unrecoverable ? `, ${r.unrecoverable} UNREADABLE (fewer than k shards reachable: bring stores back)` : '')
  );
}

function scrubSummary(r: ScrubReport): string {
  const checked = r.peers.reduce((a, p) => a + p.checked, 0);
  const bad = r.peers.flatMap((p) => p.bad.map((id) => `  ${p.store}: shard ${id.slice(0, 16)}… damaged at rest (deleted there)\n`));
  const failed = r.auditFailures.map((f) => `  ${f.store}: shard ${f.shard.slice(0, 16)}… failed its audit: ${f.why}\n`);
  const down = r.peers.filter((p) => p.error).map((p) => `  ${p.store}: not scrubbed: ${p.error}\n`);
  return (
    `peers re-hashed ${checked} shards, ${bad.length} damaged; audited ${r.shardsAudited} shards of ${r.stripesAudited} stripes, ${failed.length} failed\n` +
    bad.join('') +
    failed.join('') +
    down.join('') +
    (bad.length + failed.length > 0 ? 'run `cairn repair NAME` (or leave it to the read-write mount) to rebuild them\n' : '')
  );
}

/** The volumes whose shards live on the stores of `spec`: those the collector must not take from. */
function sharesStores(spec: BackendSpec, entry: CatalogEntry): boolean {
  const other = parseBackendSpec(entry.backend);
  if (spec.kind === 'bucket' && other.kind === 'bucket') return other.buckets.some((b) => spec.buckets.includes(b));
  return spec.kind === other.kind;
}

export function registerRepair(program: Command): void {
  program
    .command('gc')
    .description('delete shards no committed head references (left by crashed commits), in two passes a grace period apart')
    .option('--backend <backend>', 'local, peers or bucket:B[,B2…]', asFlag(parseBackendSpec), { kind: 'local' })
    .option('--grace <duration>', 'a shard must stay unreferenced this long before it is deleted', asFlag(parseDurationOrZero), 3_600_000)
    .option('--dry-run', 'report only')
    .option('--json', 'print the report as JSON')
    .option(...PASSPHRASE_OPTION)
    .action(async (flags: { backend: BackendSpec; grace: number; dryRun?: boolean; json?: boolean; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      const volumes: Volume[] = [];
      try {
        const { entries, unreachable } = await session.catalogs.list();
        if (unreachable.length > 0) throw new GcError(`not collecting: the ${unreachable[0].home} catalog is unreachable (${unreachable[0].error.message})`);
        const mine = entries.filter((e) => sharesStores(flags.backend, e));
        for (const entry of mine) {
          // Every head must be read: a shard of a volume we could not open might look unreferenced.
          volumes.push(await openVolume(session, entry, { readOnly: true }));
        }
        const n = Math.max(CATALOG_STORES, ...mine.map((e) => e.k + e.m));
        const backend = await session.backends.open(flags.backend, flags.backend.kind === 'bucket' ? flags.backend.buckets.length : n);
        const name = formatBackendSpec(flags.backend).replace(/[^a-z0-9-]/g, '_');
        const report = await collectGarbage(backend.stores, volumes, {
          statePath: join(session.home, 'gc', `${name}.json`),
          graceMs: flags.grace,
          dryRun: flags.dryRun,
        });
        if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          process.stdout.write(
            `${report.shards} shards on ${report.stores} stores, ${report.referenced} referenced by ${mine.length} volumes; ` +
              `${report.deleted} deleted, ${report.candidates} unreferenced kept until they are ${flags.grace / 1000} s old` +
              (report.failed ? `, ${report.failed} stores or deletes failed (retried next time)` : '') +
              '\n',
          );
        }
      } finally {
        await Promise.allSettled(volumes.map((v) => v.close()));
        await session.close();
      }
    });


  program
    .command('repair <name>')
    .description('bring every stripe of a volume back to n healthy shards (rebuilt from any k, placed on stores that are up)')
    .option('--grace <duration>', 'wait this long for a store that is down before rebuilding around it', asFlag(parseDurationOrZero), 0)
    .option('--json', 'print the summary as JSON')
    .option(...PASSPHRASE_OPTION)
    .action(async (name: string, flags: { grace: number; json?: boolean; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      try {
        const entry = await session.catalogs.get(name);
        const volume = await openVolume(session, entry, {}).catch((err: unknown) => {
          throw err instanceof VolumeBusyError
            ? new RepairError(`${err.message}; its mount repairs in the background (or stop it and run repair again)`, { cause: err })
            : err;
        });
        try {
          const progress = progressBar();
          const report = await repairVolume(volume, { graceMs: flags.grace, onProgress: (d, t) => progress.update(d, t, 'stripes') });
          progress.end();
          if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else process.stdout.write(`${name}: ${repairSummary(report)}\n`);
          if (report.unrecoverable > 0) process.exitCode = 1;
        } finally {
          await volume.close();
        }
      } finally {
        await session.close();
      }
    });

  program
    .command('scrub <name>')
    .description('have the peers re-hash what they hold, and audit a sample of the volume\'s shards with challenges')
    .option('--audits <n>', 'stripes to audit (a random sample)', asFlag(parseCount), 32)
    .option('--json', 'print the report as JSON')
    .option(...PASSPHRASE_OPTION)
    .action(async (name: string, flags: { audits: number; json?: boolean; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      try {
        const entry = await session.catalogs.get(name);
        const volume = await openVolume(session, entry, { readOnly: true });
        try {
          const progress = progressBar();
          const report = await scrubVolume(volume, { audits: flags.audits, onProgress: progress.update });
          progress.end();
          if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else process.stdout.write(scrubSummary(report));
        } finally {
          await volume.close();
        }
      } finally {
        await session.close();
      }
    });
}
