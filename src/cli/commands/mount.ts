import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { mountVolume, requestRecordProblem } from '../../../fuse/index.js';
import { UsageError } from '../../errors/index.js';
import { defaultRootfsDir, runContainer } from '../../scheduler/index.js';
import { openSession, openVolume } from '../session.js';
import { untilSignal } from '../signals.js';
import { asFlag, parseDurationOrZero } from '../parse.js';
import { startRepairLoop } from '../../repair/index.js';
import { repairSummary } from './repair.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';

/** Defaults of the background repair: often enough to matter, with a grace long enough for a peer restart. */
const REPAIR_EVERY_MS = 10 * 60_000;
const REPAIR_GRACE_MS = 15 * 60_000;

interface MountFlags {
  repairEvery?: number;
  repairGrace?: number;
  readOnly?: boolean;
  force?: boolean;
  forceTakeover?: boolean;
  passphraseFile?: string;
}

/** A volume opened and FUSE-mounted at `dir`; `stop` commits, unmounts and closes, in that order. */
async function mountByName(name: string, dir: string, flags: MountFlags) {
  const session = await openSession(flags.passphraseFile);
  try {
    const entry = await session.catalogs.get(name);
    const volume = await openVolume(session, entry, { readOnly: flags.readOnly, forceTakeover: flags.forceTakeover });
    try {
      const mounted = await mountVolume(volume.fs, dir, { force: flags.force, readOnly: flags.readOnly });
      const every = flags.repairEvery ?? REPAIR_EVERY_MS;
      const repair =
        flags.readOnly || every === 0
          ? undefined
          : startRepairLoop(volume, {
              everyMs: every,
              graceMs: flags.repairGrace ?? REPAIR_GRACE_MS,
              onReport: (r) => process.stderr.write(`cairn: background repair of ${name}: ${repairSummary(r)}\n`),
              onError: (err) => process.stderr.write(`cairn: background repair of ${name} failed: ${err.message}\n`),
            });
      return {
        volume,
        stop: async () => {
          try {
            await repair?.stop();
            if (!flags.readOnly) await volume.commit();
          } finally {
            try {
              await mounted.unmount();
            } finally {
              try {
                await volume.close();
              } finally {
                await session.close();
              }
            }
          }
        },
      };
    } catch (err) {
      await volume.close();
      throw err;
    }
  } catch (err) {
    await session.close();
    throw err;
  }
}

export function registerMount(program: Command): void {
  program
    .command('mount <name> <dir>')
    .description('mount a volume at DIR (foreground; Ctrl-C or SIGTERM commits, then unmounts)')
    .option('--read-only', 'mount read-only (many read-only mounts may coexist with one writer)')
    .option('--force', 'mount over a non-empty directory')
    .option('--force-takeover', 'take the volume from a live read-write mount elsewhere (it is fenced off)')
    .option('--repair-every <duration>', 'background repair pass interval of a read-write mount (0: off)', asFlag(parseDurationOrZero), REPAIR_EVERY_MS)
    .option('--repair-grace <duration>', 'how long a store may be down before repair rebuilds its shards elsewhere', asFlag(parseDurationOrZero), REPAIR_GRACE_MS)
    .option(...PASSPHRASE_OPTION)
    .action(async (name: string, dir: string, flags: MountFlags) => {
      const { volume, stop } = await mountByName(name, dir, flags);
      process.stdout.write(
        `mounted ${name} at ${dir} (${flags.readOnly ? 'read-only' : `read-write, epoch ${volume.epoch}`}); Ctrl-C to unmount\n`,
      );
      const degraded = requestRecordProblem();
      if (degraded) process.stderr.write(`cairn: write-only opens go through the kernel's page cache (slower writes), and utimens sets mtime to the atime: ${degraded}\n`);
      const signal = await untilSignal();
      process.stderr.write(`${signal}: committing and unmounting ${dir}\n`);
      await stop();
      process.stdout.write(`unmounted ${dir}\n`);
    });

  program
    .command('run')
    .description('run a command in a container with volumes mounted')
    .requiredOption('--volume <name:/path[:ro]...>', 'a volume and where the container sees it (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--read-only', 'mount every volume read-only')
    .option('--name <name>', 'the container name (and hostname)')
    .option('--force-takeover', 'take volumes from live read-write mounts elsewhere')
    .option(...PASSPHRASE_OPTION)
    .argument('<command...>', 'the command to run (after --)')
    .action(async (command: string[], flags: MountFlags & { volume: string[]; name?: string }) => {
      const specs = flags.volume.map((v) => {
        const [name, path, mode, ...rest] = v.split(':');
        if (!name || !path?.startsWith('/') || rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
          throw new UsageError(`--volume ${v}: expected NAME:/absolute/path or NAME:/path:ro`);
        }
        return { name, path, readOnly: flags.readOnly === true || mode === 'ro' };
      });
      const base = await mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'cairn-run-'));
      const mounts: { stop: () => Promise<void> }[] = [];
      try {
        const bind = [];
        for (const [i, spec] of specs.entries()) {
          const dir = join(base, String(i));
          await mkdir(dir);
          mounts.push(await mountByName(spec.name, dir, { ...flags, readOnly: spec.readOnly }));
          bind.push({ source: dir, target: spec.path, readOnly: spec.readOnly });
        }
        const result = await runContainer({ name: flags.name, rootfs: defaultRootfsDir(), command, mounts: bind });
        process.exitCode = result.exitCode;
      } finally {
        for (const m of mounts.reverse()) await m.stop().catch((err: Error) => process.stderr.write(`cairn: ${err.message}\n`));
        await rm(base, { recursive: true, force: true });
      }
    });
}
