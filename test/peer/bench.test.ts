/** The peers pipeline benchmark runs end to end and reports what it promises (figures are not asserted: rule 3). */
import { describe, expect, it } from 'vitest';
import { cairnAsync } from '../helpers/cli.js';

describe('cairn bench pipeline --backend peers', () => {
  it('prints one JSON object: write and cold read on peers vs local, and repair after a lost peer', async () => {
    const r = await cairnAsync(['bench', 'pipeline', '--backend', 'peers', '--size', '16MiB', '--rounds', '1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      bench: string;
      backend: string;
      rows: { op: string; peers_MBps: number; local_MBps: number; ratio: number }[];
      repair: { lost_bytes: number; shards_rebuilt: number; rebuilt_MBps: number };
    };
    expect(out).toMatchObject({ bench: 'pipeline', backend: 'peers' });
    expect(out.rows.map((row) => row.op)).toEqual(['write+fsync', 'cold read']);
    for (const row of out.rows) {
      expect(row.peers_MBps).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.peers_MBps / row.local_MBps, 1);
    }
    // 16 MiB at 4+2 puts about 4 MiB of shards on each of six peers; all of the lost one's come back.
    expect(out.repair.lost_bytes).toBeGreaterThan(2 * 2 ** 20);
    expect(out.repair.shards_rebuilt).toBeGreaterThanOrEqual(16);
  }, 300_000);
});
