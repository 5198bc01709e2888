import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.js';

// The README promises `npm run demo`; this runs its script (setup has run already).
describe('the demo', () => {
  it('tells the volume story end to end and finds no plaintext in the stores', () => {
    const r = spawnSync(process.execPath, ['scripts/demo.mjs'], { cwd: REPO, encoding: 'utf8', timeout: 180_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Created volume demo \(4\+2/);
    expect(r.stdout).toMatch(/hello\.txt: Hello from a container, sealed and coded/);
    expect(r.stdout).toMatch(/files containing the message or a file name: 0/);
    expect(r.stdout).toMatch(/mounted demo at .* \(read-only\)[\s\S]*hello\.txt: Hello from a container/);
    expect(r.stdout).toMatch(/Done\./);
  });
});
