import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

// The README promises `npm run demo`; this runs its script (setup has run already).
describe('the demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-demo-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rebuilds a given file from 4 of 6 shards and refuses with 3', () => {
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'the quick brown fox\n'.repeat(5000));
    const r = spawnSync(process.execPath, ['scripts/demo.mjs', file], { cwd: REPO, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/notes\.txt: 0\.10 MiB/);
    expect(r.stdout).toMatch(/rebuilt from the 4 survivors .* identical/);
    expect(r.stdout).toMatch(/refused with "cannot reconstruct: only 3 of 6 shards present, at least 4 needed"/);
  });
});
