/**
 * `cairn bench durability --live` as a user runs it: real peer processes
 * (`cairn dev up`), a FUSE mount, kill -9, corrupted shard files, SIGSTOP and
 * restarts, repair after each; every byte read back. Runs the built CLI
 * (npx tsc -p . first) in a child process this test does not block. Figures
 * are not asserted (rule 3), what the run promises is.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DurabilityReport, LiveEvent } from '../../bench/durability/index.js';
import { REPO, cairn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const BIN = `${REPO}/bin/cairn.js`;
const QUICK = ['--trials', '2000'];
// The chart in this file's own directory: its default place, $TMPDIR, would outlive the test.
const CHART = join(tempDir('durability-live'), 'chart.svg');
const LIVE = ['bench', 'durability', '--live', '--scheme', '2+1', '--live-peers', '4', '--live-size', '4MiB', '--json', '--chart', CHART, ...QUICK];
const DATASET = 4 * 2 ** 20;
/** The run stops itself (SIGINT: it cleans up) if it takes longer than this. */
const RUN_LIMIT_MS = 200_000;

const running = new Set<ReturnType<typeof spawn>>();
afterAll(async () => {
  // A run still going when the file ends is interrupted the way a user would, so it removes what it started.
  for (const child of running) child.kill('SIGINT');
  await Promise.all([...running].map((c) => new Promise((resolve) => c.once('close', resolve))));
});

/** Runs the bench without blocking this process; on overrun it is interrupted (and cleans up), not killed. */
function liveRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGINT'), RUN_LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const liveDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('cairn-bench-live-'));

async function report(extra: string[]) {
  const before = new Set(liveDirs());
  const r = await liveRun([...LIVE, ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // Its temp directory (home, peers, mount point, source files) is gone.
  expect(liveDirs().filter((d) => !before.has(d))).toEqual([]);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const out = JSON.parse(lines[0]) as DurabilityReport;
  expect(out.live).toMatchObject({ peers: 4, size: DATASET, schemes: ['2+1'], not_run: [] });
  const row = out.results.find((x) => x.scheme === '2+1')!;
  expect(row.live).toBeDefined();
  return { report: out, live: row.live! };
}

function byName(events: LiveEvent[], prefix: string): LiveEvent {
  const found = events.filter((e) => e.event.startsWith(prefix));
  expect(found, `one "${prefix}" event in ${events.map((e) => e.event).join(', ')}`).toHaveLength(1);
  return found[0];
}

describe('cairn bench durability --live', () => {
  it('within m (2+1 on 4 peers): every fault is repaired back to full redundancy and every byte reads back', async () => {
    const { live } = await report([]);
    expect(live.dataset_bytes).toBe(DATASET);
    expect(live.files).toBeGreaterThan(1);
    const events = live.events;
    expect(events.map((e) => e.event)).toEqual([
      'kill -9 1 peer',
      'restart it',
      'corrupt 3 shards, scrub',
      'stall 1 peer, read all',
      'kill -9 m = 1 peer at once',
      'restart them',
    ]);
    for (const e of events) {
      expect(e.peers_down).toBeLessThanOrEqual(1);
      expect(Number.isFinite(e.seconds_to_full_redundancy), `${e.event}: ${e.note ?? ''}`).toBe(true);
    }
    expect(live.seconds_to_full_redundancy).toEqual(events.map((e) => e.seconds_to_full_redundancy));
    // A killed peer held shards of the dataset: repair rebuilt them elsewhere and moved bytes to do it.
    for (const name of ['kill -9 1 peer', 'kill -9 m = 1 peer at once']) {
      const kill = byName(events, name);
      expect(kill.degraded).toBeGreaterThan(0);
      expect(kill.shards_rebuilt).toBe(kill.degraded);
      expect(kill.bytes_moved).toBeGreaterThan(0);
    }
    // Each flipped byte is found by scrub and its shard rebuilt.
    const rot = byName(events, 'corrupt');
    expect(rot.shards_corrupted).toBe(3);
    expect(rot.scrub_found).toBe(3);
    expect(rot.shards_rebuilt).toBeGreaterThanOrEqual(3);
    // With one peer stopped, the whole dataset still reads, and reads right.
    const stall = byName(events, 'stall');
    expect(stall.bytes_unreadable).toBe(0);
    expect(stall.bytes_wrong).toBe(0);
    expect(live.bytes_verified).toBe(DATASET);
    expect(live.bytes_lost).toBe(0);
    expect(live.bytes_wrong).toBe(0);
    expect(live.repair_MBps).toBeGreaterThan(0);
  }, RUN_LIMIT_MS + 30_000);

  it('--beyond-m: with m + 1 peers killed data is unreadable (never wrong) until they return, then all of it reads back', async () => {
    const { live } = await report(['--beyond-m']);
    const past = byName(live.events, 'kill -9 m + 1 = 2 peers');
    expect(past.peers_down).toBe(2);
    expect(past.peers).toHaveLength(2);
    expect(past.bytes_unreadable).toBeGreaterThan(0);
    expect(past.bytes_wrong).toBe(0);
    // Back once they restart: nothing lost at the end.
    expect(Number.isFinite(past.seconds_to_full_redundancy)).toBe(true);
    expect(live.events.every((e) => Number.isFinite(e.seconds_to_full_redundancy))).toBe(true);
    expect(live.bytes_verified).toBe(DATASET);
    expect(live.bytes_lost).toBe(0);
  }, RUN_LIMIT_MS + 30_000);
});

describe('cairn bench durability --live: bad input is refused before anything starts', () => {
  const refused = (args: string[], message: RegExp) => {
    const before = new Set(liveDirs());
    const r = cairn(['bench', 'durability', '--chart', CHART, ...QUICK, ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(liveDirs().filter((d) => !before.has(d))).toEqual([]);
  };

  it('live flags without --live', () => {
    refused(['--live-peers', '6'], /--live-peers, --live-size and --beyond-m only apply to a live run: add --live/);
    refused(['--beyond-m'], /add --live/);
  });

  it('no scheme fits the live peers, naming each scheme and why', () => {
    refused(['--live', '--scheme', '4+2', '--live-peers', '7'], /no scheme can run on 7 peers \(4\+2: n \+ m = 8 > 7 peers.*raise --live-peers/);
    refused(['--live', '--scheme', '1x', '--scheme', '3+0'], /1x: m = 0: losing any peer loses data.*3\+0: m = 0/);
  });

  it('too many live peers, a peer count or size that is not one', () => {
    refused(['--live', '--live-peers', '33'], /--live-peers 33 is more than 32/);
    refused(['--live', '--live-peers', '0'], /"0" is not a positive whole number/);
    refused(['--live', '--live-size', '0'], /size "0" is out of range/);
    refused(['--live', '--live-size', 'lots'], /"lots" is not a size/);
  });
});
