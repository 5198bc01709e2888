/**
 * `cairn bench durability` as a user runs it: the table and its answer line,
 * --json, the SVG chart, reproducible seeds, and a clear exit-2 error for
 * each kind of bad input. Runs the built CLI (npx tsc -p . first).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { DurabilityReport, DurabilityRow as Row } from '../../bench/durability/index.js';
import { cairn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('durability');
const SCHEMES = ['3x', '4+2', '6+3', '10+4', '17+3'];
/** Few simulated years: these tests are about the command, not the statistics. */
const QUICK = ['--trials', '2000'];


// The chart's default place is $TMPDIR: this test's own directory, which it removes.
function durability(args: string[]) {
  return cairn(['bench', 'durability', ...args], { env: { TMPDIR: dir } });
}

function json(args: string[]) {
  const r = durability(['--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as DurabilityReport & { chart: string };
}

/** The cheapest scheme whose volume nines by the worse model reach the target, worked out from the rows. */
function cheapest(rows: Row[], target: number): string | null {
  const ok = rows.filter((r) => Math.min(r.nines_period ?? Infinity, r.nines_markov ?? Infinity) >= target);
  ok.sort((a, b) => a.overhead - b.overhead);
  return ok[0]?.scheme ?? null;
}

describe('cairn bench durability', () => {
  it('--json prints one object with a row per default scheme, its inputs and the answer', () => {
    const chart = join(dir, 'json.svg');
    const out = json([...QUICK, '--volume-size', '1GiB', '--chart', chart]);
    expect(out.bench).toBe('durability');
    expect(out.inputs).toMatchObject({
      afr: 0.02,
      repair_hours: 24,
      peers: 24,
      volume_size: 2 ** 30,
      stripes: 1024,
      trials: 2000,
      seed: 1,
      target_nines: 11,
    });
    expect(out.results.map((r) => r.scheme)).toEqual(SCHEMES);
    expect(out.results.map((r) => r.overhead)).toEqual([3, 1.5, 1.5, 1.4, 20 / 17]);
    for (const r of out.results) {
      expect(r.annual_loss_period).toBeGreaterThan(0);
      // Sliding-window overlaps: the chain sees more losses than calendar periods do.
      expect(r.annual_loss_markov).toBeGreaterThan(r.annual_loss_period);
      expect(r.ci95[0]).toBeLessThanOrEqual(r.annual_loss_simulated);
      expect(r.ci95[1]).toBeGreaterThanOrEqual(r.annual_loss_simulated);
    }
    // 1 GiB of 1 MiB stripes over 24 peers. 3x: 3 GiB stored, 128 MiB a peer, rebuilt from one copy each.
    const [x3, rs42] = out.results;
    expect(x3.peer_bytes).toBe(128 * 2 ** 20);
    expect(x3.repair_read_bytes).toBe(128 * 2 ** 20);
    // 4+2: 1.5 GiB stored, 64 MiB a peer, each lost shard rebuilt from 4.
    expect(rs42.peer_bytes).toBe(64 * 2 ** 20);
    expect(rs42.repair_read_bytes).toBe(256 * 2 ** 20);
    expect(out.answer.scheme).toBe(cheapest(out.results, 11));
    expect(out.chart).toBe(chart);
    expect(existsSync(chart)).toBe(true);
  });

  it('prints a table and says plainly which scheme reaches the target nines at the lowest overhead', () => {
    const args = [...QUICK, '--afr', '0.05', '--repair-hours', '48', '--chart', join(dir, 'table.svg')];
    const rows = json(args).results;
    for (const target of [5, 9]) {
      const expected = cheapest(rows, target);
      expect(expected).not.toBeNull();
      const r = durability([...args, '--target-nines', String(target)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toMatch(/^scheme\s+overhead\s+/);
      for (const s of SCHEMES) expect(lines.some((l) => l.startsWith(`${s} `))).toBe(true);
      const overhead = rows.find((x) => x.scheme === expected)!.overhead.toFixed(2);
      expect(r.stdout).toContain(`lowest overhead with >= ${target} nines: ${expected} (${overhead}x`);
      expect(r.stdout).toContain(`chart: ${join(dir, 'table.svg')}`);
    }
    const none = durability([...args, '--target-nines', '40']);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/no scheme reaches 40 nines; the most is \S+ with [\d.]+/);
  });

  it('writes an SVG chart that reads on its own: axes, labels, a legend and one point group per scheme', () => {
    const chart = join(dir, 'chart.svg');
    const out = json([...QUICK, '--chart', chart, '--scheme', '3x', '--scheme', '4+2', '--scheme', '10+4', '--scheme', '17+3']);
    const svg = readFileSync(chart, 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => ['g', 'text', 'circle', 'rect', 'path', 'line'].includes(name),
    }).parse(svg);
    const root = parsed.svg;
    expect(root.xmlns).toBe('http://www.w3.org/2000/svg');
    const texts = (root.text as { class?: string; '#text': string }[]).map((t) => t['#text']);
    expect(texts.some((t) => /storage overhead/.test(t))).toBe(true);
    expect(texts.some((t) => /nines of annual durability/.test(t))).toBe(true);
    expect(texts.some((t) => /AFR 2%\/peer-year, repair 24 h, 24 peers/.test(t))).toBe(true);
    const tickLabels = (root.text as { class?: string; '#text': string | number }[]).filter((t) => t.class === 'tick');
    expect(tickLabels.length).toBeGreaterThan(4);

    interface Group {
      class: string;
      'data-scheme': string;
      circle?: { cx: string }[];
      rect?: unknown[];
      path?: unknown[];
      text?: { '#text': string }[];
    }
    const groups = (root.g as Group[]).filter((g) => g.class === 'scheme');
    expect(groups.map((g) => g['data-scheme'])).toEqual(['3x', '4+2', '10+4', '17+3']);
    for (const g of groups) {
      expect(g.circle).toHaveLength(1);
      expect(g.rect).toHaveLength(1);
      expect(g.path).toHaveLength(1);
      expect(g.text![0]['#text']).toBe(g['data-scheme']);
    }
    // Higher overhead is further right.
    const cx = (s: string) => Number(groups.find((g) => g['data-scheme'] === s)!.circle![0].cx);
    expect(cx('3x')).toBeGreaterThan(cx('4+2'));
    expect(cx('4+2')).toBeGreaterThan(cx('10+4'));
    expect(cx('10+4')).toBeGreaterThan(cx('17+3'));

    const legend = (root.g as { class: string; g?: { text: { '#text': string }[] }[] }[]).find((g) => g.class === 'legend')!;
    expect(legend.g!.map((e) => e.text[0]['#text'])).toEqual([
      'period model (Backblaze)',
      'Markov chain (MTTDL)',
      'simulation, 95% lower bound',
      'target',
    ]);
    expect(out.results).toHaveLength(4);
  });

  it('gives the same output for the same --seed and another for another seed', () => {
    const args = ['--afr', '3', '--repair-hours', '100', '--volume-size', '1GiB', '--trials', '3000'];
    args.push('--scheme', '4+2', '--scheme', '10+4');
    const a = durability(['--json', ...args, '--seed', '7', '--chart', join(dir, 'a.svg')]);
    const b = durability(['--json', ...args, '--seed', '7', '--chart', join(dir, 'a.svg')]);
    const c = durability(['--json', ...args, '--seed', '8', '--chart', join(dir, 'a.svg')]);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const losses = (out: string) => (JSON.parse(out).results as Row[]).map((r) => r.annual_loss_simulated);
    expect(losses(a.stdout).every((p) => p > 0.05)).toBe(true);
    expect(losses(c.stdout)).not.toEqual(losses(a.stdout));
  });

  it('--help shows every input with its default', () => {
    const r = durability(['--help']);
    expect(r.code).toBe(0);
    const flags = ['--scheme', '--afr', '--repair-hours', '--peers', '--zones', '--zone-failure-rate', '--volume-size'];
    flags.push('--block-size', '--trials', '--seed', '--target-nines', '--chart', '--json');
    for (const flag of flags) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('default: 3x 4+2 6+3 10+4 17+3');
    expect(r.stdout).toMatch(/--afr <rate>[\s\S]*\(default: 0\.02\)/);
    expect(r.stdout).toMatch(/--repair-hours <hours>[\s\S]*\(default: 24\)/);
  });

  it.each([
    [['--scheme', '4+x'], /"4\+x" is not a scheme/],
    [['--scheme', '0x'], /replication is 1x to 256x/],
    [['--peers', '10'], /10\+4, 17\+3 need 20 peers .* but --peers is 10/],
    [['--afr', 'often'], /--afr.*"often" is not a positive number/],
    [['--afr', '0'], /--afr.*"0" is not a positive number/],
    [['--repair-hours', '0'], /--repair-hours.*not a positive number/],
    [['--afr', '100', '--repair-hours', '100'], /one failure per peer per repair time or more/],
    [['--zone-failure-rate', '1'], /--zone-failure-rate needs --zones 2 or more/],
    [['--zone-failure-rate', 'lots'], /--zone-failure-rate.*not a non-negative number/],
    [['--zones', '30'], /--zones 30 is more than --peers 24/],
    [['--volume-size', 'big'], /--volume-size.*"big" is not a size/],
    [['--trials', '0'], /--trials.*"0" is not a positive whole number/],
    [['--seed', 'x'], /--seed.*"x" is not a seed/],
    [['--target-nines', 'eleven'], /--target-nines.*not a positive number/],
    [['--chart', '/nonexistent-dir/c.svg'], /cannot write the chart to \/nonexistent-dir\/c\.svg/],
  ])('refuses %j with a one-line error and exit code 2', (args, message) => {
    const r = durability([...QUICK, ...(args as string[])]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
  });
});
