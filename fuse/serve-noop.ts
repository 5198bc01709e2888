/**
 * Serves the no-op filesystem in this process, for the FUSE benchmark to run
 * its workload against from another process (never from this one: see
 * mount.ts). Usage: node dist/fuse/serve-noop.js DIR [--force]
 *
 * stdout, one JSON object a line:
 *   {"event":"mounted","dir":"/abs/DIR"}             once the mount answers
 *   {"event":"unmounted","stats":{writes,...}}      after SIGINT/SIGTERM, then exit 0
 * A failure goes to stderr with exit code 1.
 */
import { mountVolume } from './mount.js';
import { NoopFs } from './noop.js';

const say = (event: object): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'));
if (dir === undefined) {
  process.stderr.write('usage: serve-noop DIR [--force]\n');
  process.exit(2);
}

const fs = new NoopFs();
try {
  const mounted = await mountVolume(fs, dir, { force: args.includes('--force') });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    mounted.unmount().then(
      () => say({ event: 'unmounted', stats: fs.stats() }),
      (err: Error) => {
        process.stderr.write(`serve-noop: ${err.message}\n`);
        process.exitCode = 1;
      },
    ).finally(() => process.exit());
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  say({ event: 'mounted', dir: mounted.dir });
} catch (err) {
  process.stderr.write(`serve-noop: ${(err as Error).message}\n`);
  process.exit(1);
}
