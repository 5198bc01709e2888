import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { newKey, wrapKey } from '../../crypto/index.js';
import { type BackendSpec, type CatalogEntry, formatBackendSpec, parseBackendSpec } from '../../cluster/index.js';
import { UsageError } from '../../errors/index.js';
import { VolumeBusyError } from '../../volume/index.js';
import { asFlag, parseCode, parseSize, parseVolumeName } from '../parse.js';
import { openVolume, withSession } from '../session.js';
import { humanBytes, printTable } from '../table.js';
import { commandGroup } from '../group.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';

/** 1 MiB: big enough for sequential throughput and few stripes per file, small enough that a 4 KiB random write rewrites little. */
export const DEFAULT_BLOCK_SIZE = 2 ** 20;
const MIN_BLOCK = 64 * 1024;
const MAX_BLOCK = 16 * 2 ** 20;


/**
 * 4+2 spreads over local stores or peers; a single bucket is already durable
 * (the provider replicates), so there a stripe is one sealed shard (1+0, no
 * parity overhead); over n buckets, n-1+1 survives losing any one of them.
 */
function defaultCode(backend: BackendSpec): { k: number; m: number } {
  if (backend.kind !== 'bucket') return { k: 4, m: 2 };
  const n = backend.buckets.length;
  return n === 1 ? { k: 1, m: 0 } : { k: n - 1, m: 1 };
}

function describe(e: CatalogEntry) {
  return { name: e.name, id: e.id, code: `${e.k}+${e.m}`, block_size: e.blockSize, backend: e.backend, created: new Date(e.createdMs).toISOString() };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function registerVolume(program: Command): void {
  const volume = commandGroup(program, 'volume', 'create, list, inspect and remove volumes');

  volume
    .command('create <name>')
    .description('create a volume (sealed and coded on the mounting machine; stores see only ciphertext)')
    .option('--code <k+m>', 'data + parity shards per stripe (default 4+2; 1+0 on one bucket, n-1+1 over n buckets)', asFlag(parseCode))
    .option('--block-size <size>', 'bytes per block (a power of two, 64KiB..16MiB)', asFlag(parseSize), DEFAULT_BLOCK_SIZE)
    .option(
      '--backend <backend>',
      'where the shards go: local (n directories in $CAIRN_STORES), peers (the cluster\'s storage peers), bucket:B[,B2…] (`cairn bucket add`)',
      asFlag(parseBackendSpec),
      { kind: 'local' },
    )
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print the result as JSON')
    .action(async (rawName: string, flags: { code?: { k: number; m: number }; blockSize: number; backend: BackendSpec; passphraseFile?: string; json?: boolean }) => {
      const name = parseVolumeName(rawName);
      const bs = flags.blockSize;
      if (bs < MIN_BLOCK || bs > MAX_BLOCK || (bs & (bs - 1)) !== 0) {
        throw new UsageError(`--block-size must be a power of two from 64KiB to 16MiB, got ${bs}`);
      }
      const code = flags.code ?? defaultCode(flags.backend);
      if (flags.backend.kind === 'bucket' && flags.backend.buckets.length > 1 && code.k + code.m !== flags.backend.buckets.length) {
        throw new UsageError(
          `--code ${code.k}+${code.m} has ${code.k + code.m} shards but --backend names ${flags.backend.buckets.length} buckets: each shard of a stripe goes to its own bucket`,
        );
      }
      const entry = await withSession(flags, async (s) => {
        const id = randomBytes(16);
        const created: CatalogEntry = {
          name,
          id: id.toString('hex'),
          k: code.k,
          m: code.m,
          blockSize: bs,
          backend: formatBackendSpec(flags.backend),
          wrappedKey: Buffer.from(wrapKey(s.masterKey, newKey(), id)).toString('base64'),
          createdMs: Date.now(),
        };
        // Opening the backend first checks it can hold the code (enough peers, the buckets exist here).
        await s.backends.open(flags.backend, code.k + code.m);
        await s.catalogs.add(created);
        return created;
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(describe(entry))}\n`);
      else process.stdout.write(`Created volume ${name} (${entry.k}+${entry.m}, ${humanBytes(bs)} blocks, ${entry.backend} backend)\n`);
    });

  volume
    .command('ls')
    .description('list volumes')
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print a JSON array')
    .action(async (flags: { passphraseFile?: string; json?: boolean }) => {
      const entries = await withSession(flags, async (s) => {
        const { entries: found, unreachable } = await s.catalogs.list();
        for (const u of unreachable) process.stderr.write(`cairn: warning: the ${u.home} catalog is unreachable (${u.error.message}); its volumes are not listed\n`);
        return found;
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(entries.map(describe))}\n`);
        return;
      }
      if (entries.length === 0) {
        process.stdout.write('No volumes yet: `cairn volume create NAME`\n');
        return;
      }
      printTable(
        ['name', 'code', 'block size', 'backend', 'created'],
        entries.map((e) => [e.name, `${e.k}+${e.m}`, humanBytes(e.blockSize), e.backend, new Date(e.createdMs).toISOString()]),
      );
    });

  volume
    .command('info <name>')
    .description('show a volume: code, head, lease, files and bytes')
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, flags: { passphraseFile?: string; json?: boolean }) => {
      const info = await withSession(flags, async (s) => {
        const entry = await s.catalogs.get(name);
        const v = await openVolume(s, entry, { readOnly: true });
        try {
          const lease = await v.lease();
          let files = 0;
          let bytes = 0;
          for (const inode of v.fs.meta.inodes.values()) {
            files++;
            bytes += inode.blocks ? inode.size : 0;
          }
          return {
            ...describe(entry),
            epoch: v.epoch,
            seq: v.seq,
            inodes: files,
            bytes,
            mounted_by: lease && lease.expiresAtMs > Date.now() ? lease.holder : null,
          };
        } finally {
          await v.close();
        }
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      process.stdout.write(
        `Volume ${info.name} (${info.id})\n` +
          `  code ${info.code}, ${humanBytes(info.block_size)} blocks, ${info.backend} backend, created ${info.created}\n` +
          `  head epoch ${info.epoch} seq ${info.seq}; ${info.inodes} inodes, ${humanBytes(info.bytes)} in files\n` +
          `  ${info.mounted_by ? `mounted read-write by ${info.mounted_by}` : 'not mounted read-write'}\n`,
      );
    });

  volume
    .command('rm <name>')
    .description('remove a volume and delete its shards')
    .option('--yes', 'do not ask for confirmation')
    .option(...PASSPHRASE_OPTION)
    .action(async (name: string, flags: { yes?: boolean; passphraseFile?: string }) => {
      if (!flags.yes) {
        if (!process.stdin.isTTY) throw new UsageError(`removing ${name} deletes its data: confirm with --yes`);
        if (!(await confirm(`Remove volume ${name} and delete all its data? [y/N] `))) throw new UsageError('not removed');
      }
      const removed = await withSession(flags, async (s) => {
        const entry = await s.catalogs.get(name);
        const v = await openVolume(s, entry, { readOnly: true });
        try {
          const lease = await v.lease();
          if (lease && lease.expiresAtMs > Date.now()) throw new VolumeBusyError(lease);
          await s.catalogs.remove(entry);
          const refs = v.allRefs();
          await Promise.all(refs.map((r) => v.backend.deleteStripe(r)));
          // Last, once nothing is left for them to point at: the head and lease each store keeps.
          const kept = (await v.backend.each((store) => store.deleteRecords(v.idHex))).filter((r) => r.status === 'rejected');
          return { stripes: refs.length, kept: kept.length };
        } finally {
          await v.close();
        }
      });
      const left = removed.kept > 0 ? `; ${removed.kept} store(s) did not answer and keep its sealed head and lease` : '';
      process.stdout.write(`Removed volume ${name} (${removed.stripes} stripes deleted${left})\n`);
    });
}
