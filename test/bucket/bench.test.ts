import { describe, expect, it } from 'vitest';
import { cairn } from '../helpers/cli.js';

describe('cairn bench pipeline --backend bucket', () => {
  it('measures Cairn and rclone crypt on one s3rver bucket; only rclone with a write cache acknowledges before the data is stored', () => {
    const r = cairn(['bench', 'pipeline', '--backend', 'bucket', '--json', '--rounds', '1', '--size', '2MiB', '--block-size', '1MiB']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      bench: string;
      backend: string;
      rows: { system: string; mode: string; acknowledged_before_stored: boolean; in_bucket_s: number; write_returned_s: number; read_MBps: number }[];
      ratios: { mode: string }[];
    };
    expect(out).toMatchObject({ bench: 'pipeline', backend: 'bucket', size: 2 * 2 ** 20 });
    expect(out.rows.map((row) => [row.system, row.mode, row.acknowledged_before_stored])).toEqual([
      ['cairn', 'bucket 1+0, 1 MiB blocks', false],
      ['rclone crypt', '--vfs-cache-mode off', false],
      ['rclone crypt', '--vfs-cache-mode writes', true],
      ['rclone crypt', '--vfs-cache-mode full', true],
    ]);
    for (const row of out.rows) expect(row.read_MBps).toBeGreaterThan(0);
    expect(out.ratios.map((x) => x.mode)).toEqual(['--vfs-cache-mode off', '--vfs-cache-mode writes', '--vfs-cache-mode full']);
  });

  it('keeps the in-memory pipeline as the default, and refuses an unknown backend', () => {
    const bad = cairn(['bench', 'pipeline', '--backend', 'tape']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backend must be memory, bucket or peers, not "tape"/);
    const memory = cairn(['bench', 'pipeline', '--json', '--rounds', '1', '--block-size', '64KiB']);
    expect(memory.code, memory.stderr).toBe(0);
    expect(JSON.parse(memory.stdout)).toMatchObject({ bench: 'pipeline', size: 65536 });
  });
});
