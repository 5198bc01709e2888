import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { cairn, REPO } from '../helpers/cli.js';

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe('the cairn command', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8'));
    const r = cairn(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help lists the commands', () => {
    const r = cairn(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: cairn/);
    expect(r.stdout).toMatch(/bench/);
  });

  it('every command answers --help with exit 0 and its own usage line', async () => {
    const paths = commandPaths(await buildProgram());
    expect(paths.length).toBeGreaterThan(1);
    for (const path of paths) {
      const r = cairn([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      expect(r.stdout, path.join(' ')).toContain(`Usage: cairn ${path.join(' ')}`);
    }
  });

  it('an unknown command is a one-line error with exit code 2', () => {
    const r = cairn(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cairn: unknown command 'frobnicate'/);
    expect(r.stdout).toBe('');
  });

  it('an unknown flag is a one-line error with exit code 2', () => {
    const r = cairn(['bench', 'erasure', '--frob']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown option '--frob'/);
  });

  it('a bad flag value names the flag, exit code 2', () => {
    const r = cairn(['bench', 'erasure', '--shard-size', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--shard-size.*"lots" is not a size/);
  });

  it('a group without its subcommand shows its usage and exits 2', () => {
    const r = cairn(['bench']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: cairn bench/);
  });
});

describe('cairn bench crypto|pipeline --json', () => {
  it.each([
    ['crypto', '--message-size', ['seal', 'open']],
    [
      'pipeline',
      '--block-size',
      ['seal call', 'seal pool', 'open call', 'open pool', 'open-degraded call', 'open-degraded pool'],
    ],
  ])('%s prints one JSON object with a row per op', (name, flag, ops) => {
    const r = cairn(['bench', name, '--json', flag, '256KiB', '--rounds', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ bench: name, size: 262144 });
    expect(out.results.map((x: { op: string; mode?: string }) => [x.op, x.mode].join(' ').trim())).toEqual(ops);
    for (const row of out.results) {
      expect(row.ours_MBps).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.ours_MBps / row.reference_MBps, 1);
    }
  });
});

describe('cairn bench fuse --json', () => {
  it('measures the three targets and prints ratios', () => {
    const r = cairn(['bench', 'fuse', '--json', '--size', '8MiB', '--fio-seconds', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.bench).toBe('fuse');
    const ops = out.results.map((x: { op: string }) => x.op);
    expect(ops).toEqual(['seq-write', 'seq-read', 'rand-write-4k', 'rand-read-4k']);
    for (const row of out.results) {
      for (const t of ['cairn', 'noop_fuse', 'local_disk']) expect(row[t]).toBeGreaterThan(0);
      expect(row.ratio_vs_noop).toBeCloseTo(row.cairn / row.noop_fuse, 1);
    }
  }, 180_000);
});

describe('cairn bench erasure --json', () => {
  it('prints one JSON object with encode and reconstruct rows for each code', () => {
    const r = cairn(['bench', 'erasure', '--json', '--shard-size', '64KiB', '--rounds', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out.bench).toBe('erasure');
    expect(out.size).toBe(65536);
    const keys = out.results.map((x: { code: string; op: string }) => `${x.code} ${x.op}`);
    expect(keys).toEqual([
      '4+2 encode',
      '4+2 reconstruct',
      '6+3 encode',
      '6+3 reconstruct',
      '10+4 encode',
      '10+4 reconstruct',
    ]);
    for (const row of out.results) {
      expect(row.ours_MBps).toBeGreaterThan(0);
      expect(row.reference_MBps).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.ours_MBps / row.reference_MBps, 1);
    }
  });
});
