import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

// The README promises `npm run demo`; this runs its script (setup has run already).
describe('the demo', () => {
  it('tells the story on the embedded cluster: peers hold no plaintext, two lost peers, still read, repaired; an app through the router survives losing its node', () => {
    const r = spawnSync(process.execPath, ['scripts/demo.mjs'], { cwd: REPO, encoding: 'utf8', timeout: 400_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/cairn dev cluster up: 8 peers/);
    expect(r.stdout).toMatch(/Created volume demo \(4\+2, .* peers backend\)/);
    expect(r.stdout).toMatch(/hello\.txt: Hello from a container, sealed and coded/);
    expect(r.stdout).toMatch(/[1-9]\d* shard files under/);
    expect(r.stdout).toMatch(/files containing the message or a file name: 0/);
    expect(r.stdout).toMatch(/(down {3}zone-\d[\s\S]*){2}/);
    expect(r.stdout).toMatch(/mounted demo at .* \(read-only\)[\s\S]*hello\.txt: Hello from a container[\s\S]*notes\/numbers: identical/);
    expect(r.stdout).toMatch(/demo: \d+ stripes checked, ([1-9]\d*) short of n: \1 repaired \([1-9]\d* shards rebuilt/);
    expect(r.stdout).toMatch(/demo: \d+ stripes checked, 0 short of n/);
    expect(r.stdout).toMatch(/deployed site version 1 \(id [a-z0-9]+\), all replicas healthy/);
    expect(r.stdout).toMatch(/GET https:\/\/site-[a-z0-9]+\.zone-1\.cairn\.test:\d+\/index\.html \(TLS terminated[^\n]*\n\s+200 Hello through the router, from a volume on the peers/);
    expect(r.stdout).toMatch(/back on n\d after [\d.]+ s, volume lease epoch \d+[^\n]*\n[^\n]*index\.html: Hello through the router, from a volume on the peers/);
    expect(r.stdout).toMatch(/Done\./);
  }, 400_000);
});
