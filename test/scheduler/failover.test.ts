// The scheduler with real processes: a control plane and three node agents
// (`cairn` child processes; build with `npx tsc -p .` first), real runc
// containers and FUSE-mounted volumes on the local backend. Needs root, runc
// and FUSE, and fails loudly without them.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppView, InstanceView } from '../../src/control/index.js';
import { FileStore, StaleHeadError } from '../../src/store/index.js';
import { LiveCluster, containerLimits, mountsUnder, processesWith, runcList } from './live-cluster.js';

/** The failover promise of issue 8: the instance runs again on another node within this. */
const PROMISE_MS = 30_000;

const cluster = new LiveCluster('scheduler');

beforeAll(async () => {
  await cluster.start([
    ['n1', 'z1'],
    ['n2', 'z2'],
    ['n3', 'z1'],
  ]);
}, 120_000);

function specFile(name: string, yaml: string): string {
  const path = join(cluster.env.root, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

function deploy(name: string, yaml: string, wait = true): void {
  const r = cluster.cli(['app', 'deploy', specFile(name, yaml), ...(wait ? ['--wait', '--timeout', '90'] : [])]);
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
}

const ready = (i: InstanceView) => i.desired === 'run' && i.status?.state === 'running' && i.status.healthy;

async function get(port: number, path: string): Promise<Buffer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status, path).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The one healthy instance of a single-replica app not on `avoid`, once there is one. */
function healthyElsewhere(app: AppView, avoid: string): InstanceView | undefined {
  return app.instances.find((i) => ready(i) && i.node !== avoid);
}

describe('failover: a node agent killed with -9', () => {
  // Writes 1 MiB of random bytes and its checksum once, fsyncs both, then serves /data.
  const KEEPER = `name: keeper
command: |
  echo "boot $(hostname)" >> /data/boots
  [ -f /data/payload.sha256 ] || {
    head -c 1048576 /dev/urandom > /data/payload &&
    sha256sum /data/payload > /data/payload.sha256 &&
    sync /data/payload /data/payload.sha256
  }
  exec httpd -f -p "$PORT" -h /data
ports:
  - name: web
    protocol: http
volumes:
  - name: keep
    path: /data
health:
  type: http
  path: /payload.sha256
`;

  it('brings the instance and its volume back on another node, every fsynced byte intact, the old node fenced', async () => {
    expect(cluster.cli(['volume', 'create', 'keep']).code).toBe(0);
    const volumeId = (JSON.parse(cluster.cli(['volume', 'info', 'keep', '--json']).stdout) as { id: string }).id;
    deploy('keeper', KEEPER);
    const before = (await cluster.app('keeper')).instances.find(ready)!;
    expect(before.status!.volumes).toEqual([{ name: 'keep', epoch: expect.any(Number) }]);
    const oldEpoch = before.status!.volumes[0].epoch;
    const payload = await get(before.status!.ports.web, '/payload');
    const sum = (await get(before.status!.ports.web, '/payload.sha256')).toString();
    expect(payload.length).toBe(1 << 20);
    expect(sum).toBe(`${sha256(payload)}  /data/payload\n`);

    const victim = cluster.agents.get(before.node!)!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    const after = await cluster.waitFor('the instance on another node', PROMISE_MS, async () =>
      healthyElsewhere(await cluster.app('keeper'), victim.name),
    );
    const elapsed = Date.now() - killedAt;
    process.stdout.write(`failover: ${before.id} on ${victim.name} killed -9 -> ${after.id} healthy on ${after.node} after ${elapsed} ms\n`);
    expect(elapsed).toBeLessThan(PROMISE_MS);
    expect(after.takeover).toBe(true);

    // The same bytes, served by the new container from the volume now mounted on the new node.
    const port = after.status!.ports.web;
    expect(sha256(await get(port, '/payload'))).toBe(sha256(payload));
    expect((await get(port, '/payload.sha256')).toString()).toBe(sum);
    expect((await get(port, '/boots')).toString().trim().split('\n')).toHaveLength(2);

    // Fenced: the new lease epoch is higher, and every store refuses a head from the old one.
    const newEpoch = after.status!.volumes[0].epoch;
    expect(newEpoch).toBeGreaterThan(oldEpoch);
    for (let s = 0; s < 6; s++) {
      const store = await FileStore.open(join(cluster.env.stores, `store-${s}`));
      try {
        expect((await store.getLease(volumeId))?.epoch).toBe(newEpoch);
        const head = (await store.getHead(volumeId))!;
        expect(head.epoch).toBe(newEpoch);
        const late = store.putHead({ volumeId, epoch: oldEpoch, seq: head.seq + 1, body: head.body });
        await expect(late).rejects.toBeInstanceOf(StaleHeadError);
        expect((await store.getHead(volumeId))?.seq).toBe(head.seq);
      } finally {
        await store.close();
      }
    }
  }, 180_000);

  it('the killed node, restarted, clears the container and the dead mount it left behind', async () => {
    const victim = [...cluster.agents.values()].find((a) => a.child.signalCode === 'SIGKILL')!;
    const runcRoot = join(victim.state, 'runc');
    const orphans = runcList(runcRoot);
    expect(orphans.map((c) => c.status)).toEqual(['running']);
    expect(processesWith(orphans[0].id).length).toBeGreaterThan(0);
    expect(mountsUnder(victim.state).length).toBeGreaterThan(0);
    const restarted = await cluster.startAgent(victim.name, victim.zone);
    expect(restarted.output()).toMatch(/cleared what a previous run left behind/);
    expect(runcList(runcRoot)).toEqual([]);
    expect(mountsUnder(victim.state)).toEqual([]);
    // Really gone: no process of that container is left (not even one stuck on the dead mount).
    await cluster.waitFor('the orphaned container processes to exit', 10_000, () =>
      processesWith(orphans[0].id).length === 0 ? true : undefined,
    );
    // It is a ready node again, and nothing moves back to it.
    await cluster.waitFor('the node to be ready', 10_000, async () =>
      (await cluster.client.nodes()).find((n) => n.name === victim.name && n.state === 'ready'),
    );
    expect((await cluster.app('keeper')).instances.filter((i) => i.node === victim.name)).toEqual([]);
  }, 120_000);

  it('a new version of an app with a read-write volume hands the volume over cleanly: old stops first, no takeover', async () => {
    const before = (await cluster.app('keeper')).instances.find(ready)!;
    const sum = (await get(before.status!.ports.web, '/payload.sha256')).toString();
    deploy('keeper', `${KEEPER}env:\n  RELEASE: "2"\n`);
    const app = await cluster.app('keeper');
    expect(app.version).toBe(2);
    expect(app.instances).toHaveLength(1);
    const after = app.instances[0];
    expect(after).toMatchObject({ version: 2, takeover: false });
    expect(after.id).not.toBe(before.id);
    expect(after.status!.volumes[0].epoch).toBeGreaterThan(before.status!.volumes[0].epoch);
    expect((await get(after.status!.ports.web, '/payload.sha256')).toString()).toBe(sum);
    expect((await get(after.status!.ports.web, '/boots')).toString().trim().split('\n')).toHaveLength(3);
  }, 120_000);

  it('a node that was only cut off (paused) comes back fenced: its late writes never land', async () => {
    await cluster.startPeers(4);
    expect(cluster.cli(['volume', 'create', 'ticks', '--backend', 'peers', '--code', '2+1']).code).toBe(0);
    // Each container copies what it finds at boot, then keeps appending lines tagged with its host name, fsyncing
    // every 10: whenever its node is paused it is in the middle of writing, and resumed it has writes to commit.
    deploy(
      'ticker',
      `name: ticker
command: |
  touch /data/ticks && cp /data/ticks /data/seen-by-$(hostname) && sync /data/seen-by-$(hostname)
  httpd -p "$PORT" -h /data
  n=0
  while true; do
    n=$((n+1)); echo "$(hostname) $n" >> /data/ticks
    [ $((n % 10)) = 0 ] && sync /data/ticks
    usleep 10000
  done
ports:
  - name: web
    protocol: http
volumes:
  - name: ticks
    path: /data
health:
  type: tcp
`,
    );
    const first = (await cluster.app('ticker')).instances.find(ready)!;
    const paused = cluster.agents.get(first.node!)!;
    await sleep(2500);
    paused.child.kill('SIGSTOP');
    let second: InstanceView;
    try {
      second = await cluster.waitFor('the instance on another node', PROMISE_MS, async () =>
        healthyElsewhere(await cluster.app('ticker'), paused.name),
      );
      expect(second.takeover).toBe(true);
    } finally {
      paused.child.kill('SIGCONT');
    }
    // Back, the paused node learns its instance moved: it stops it, and its last commit is refused.
    await cluster.waitFor('the paused node to be refused', 30_000, () =>
      /lost the volume to a newer writer/.test(paused.output()) ? true : undefined,
    );
    await cluster.waitFor('the paused node to stop its container', 30_000, () =>
      runcList(join(paused.state, 'runc')).length === 0 ? true : undefined,
    );
    await sleep(1000);
    // Remove the app (the volume is committed and released), then read what the stores hold.
    expect(cluster.cli(['app', 'rm', 'ticker']).code).toBe(0);
    await cluster.waitFor('the volume to be released', 30_000, () => {
      // Polled while the release is under way: a call that fails (one CI run on a loaded machine printed
      // nothing once) is asked again, and a volume never released still times out.
      const r = cluster.cli(['volume', 'info', 'ticks', '--json']);
      if (r.code !== 0) return undefined;
      const info = JSON.parse(r.stdout) as { mounted_by: string | null };
      return info.mounted_by === null ? true : undefined;
    });
    const mnt = cluster.env.dir('ticks-ro');
    const m = await cluster.env.mount('ticks', mnt, ['--read-only']);
    try {
      const lines = (file: string) => readFileSync(join(mnt, file), 'utf8').split('\n').filter(Boolean);
      const host = (i: InstanceView) => `cairn-${i.id}-`;
      const seenAtTakeover = readdirSync(mnt).find((f) => f.startsWith(`seen-by-${host(second)}`))!;
      expect(seenAtTakeover).toBeDefined();
      const firstAtTakeover = lines(seenAtTakeover).filter((l) => l.startsWith(host(first)));
      const firstInTheEnd = lines('ticks').filter((l) => l.startsWith(host(first)));
      // The first writer's fsynced lines were there at the takeover, and none of its later ones ever landed.
      expect(firstAtTakeover.length).toBeGreaterThanOrEqual(10);
      expect(firstInTheEnd).toEqual(firstAtTakeover);
      expect(lines('ticks').filter((l) => l.startsWith(host(second))).length).toBeGreaterThan(0);
    } finally {
      await m.stop();
    }
  }, 180_000);
});

describe('restarts and rollouts', () => {
  it('a crashing container is restarted with growing backoff, and its output reaches `cairn app logs`', async () => {
    deploy('crashy', 'name: crashy\ncommand: echo "run at $(date +%s)"; exit 3\n', false);
    // Runs at 0, 1, 3 and 7 s (backoff 1, 2, 4 s).
    const app = await cluster.waitFor('three restarts', 30_000, async () => {
      const a = await cluster.app('crashy');
      return (a.instances[0]?.status?.restarts ?? 0) >= 3 ? a : undefined;
    });
    expect(app.instances[0].status).toMatchObject({ exitCode: 3, error: 'the container exited with code 3' });
    await sleep(1500); // the last lines ride the next heartbeat
    const logs = cluster.cli(['app', 'logs', 'crashy']);
    expect(logs.code, logs.stderr).toBe(0);
    const id = app.instances[0].id;
    const runs = logs.stdout.split('\n').filter((l) => l.startsWith(`${id} | run at `));
    expect(runs.length).toBeGreaterThanOrEqual(3);
    const waits = [...logs.stdout.matchAll(/exited with code 3; restarting in (\d+) s/g)].map((m) => Number(m[1]));
    expect(waits.slice(0, 3)).toEqual([1, 2, 4]);
    expect(cluster.cli(['app', 'rm', 'crashy']).code).toBe(0);
  }, 120_000);

  it('a new version rolls out one replica at a time, each waiting for the last to be healthy', async () => {
    const web = (version: string, delay: number) => `name: web
command: mkdir -p /tmp/www && echo ${version} > /tmp/www/version && sleep ${delay} && exec httpd -f -p "$PORT" -h /tmp/www
replicas: 2
ports:
  - name: www
    protocol: http
health:
  type: http
  path: /version
`;
    deploy('web', web('one', 0));
    // The new version takes 2 s to answer its health check.
    deploy('web', web('two', 2), false);
    const snapshots: AppView[] = [];
    const done = await cluster.waitFor('the rollout', 90_000, async () => {
      const app = await cluster.app('web');
      snapshots.push(app);
      const live = app.instances.filter((i) => i.desired === 'run');
      return live.length === 2 && live.every((i) => i.version === 2 && ready(i)) && app.instances.length === 2 ? app : undefined;
    });
    for (const app of snapshots) {
      const live = app.instances.filter((i) => i.desired === 'run');
      // At most one new instance is on its way at any time.
      expect(live.filter((i) => i.version === 2 && !ready(i)).length).toBeLessThanOrEqual(1);
      // A replica's old instance is told to stop only once a new one in its slot is healthy.
      for (const slot of [0, 1]) {
        if (!live.some((i) => i.slot === slot && i.version === 1)) {
          expect(live.some((i) => i.slot === slot && i.version === 2 && ready(i)), `slot ${slot}`).toBe(true);
        }
      }
    }
    // Both slots passed through a state with a new instance starting beside the old one.
    const overlaps = [0, 1].map((slot) =>
      snapshots.some((a) => a.instances.filter((i) => i.slot === slot && i.desired === 'run').length === 2),
    );
    expect(overlaps).toEqual([true, true]);
    for (const i of done.instances) expect((await get(i.status!.ports.www, '/version')).toString()).toBe('two\n');
    // The spec's resources (defaults here: 0.1 cpu, 64 MiB) are the kernel's limits on the container.
    const [one] = done.instances;
    const runcRoot = join(cluster.agents.get(one.node!)!.state, 'runc');
    const container = runcList(runcRoot).find((c) => c.id.startsWith(`cairn-${one.id}-`))!;
    expect(containerLimits(runcRoot, container.id)).toEqual({ memoryBytes: 64 * 2 ** 20, cpuQuotaUs: 10_000 });
    // The router sees exactly the new instances.
    const routes = (await cluster.client.routes()).routes.filter((r) => r.app === 'web');
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) {
      // TLS is terminated by the router, with a certificate from the control plane's dev CA.
      expect(r.kind).toBe('tls-terminate');
      expect(readFileSync(r.cert!, 'utf8')).toMatch(/BEGIN CERTIFICATE/);
      expect(r.instances.map((i) => i.port).sort()).toEqual(done.instances.map((i) => i.status!.ports.www).sort());
      expect(r.instances.every((i) => i.healthy)).toBe(true);
    }
  }, 180_000);

  it('cairn node ls shows the three nodes, their zones and what they run', () => {
    const r = cluster.cli(['node', 'ls']);
    expect(r.code, r.stderr).toBe(0);
    for (const [name, zone] of [['n1', 'z1'], ['n2', 'z2'], ['n3', 'z1']]) {
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+${zone}\\s+ready\\s+\\d+\\s`, 'm'));
    }
  });

  it('a second agent on a state directory in use is refused, and a taken node name too', () => {
    const n2 = cluster.agents.get('n2')!;
    const same = cluster.cli(['node', 'start', '--state', n2.state, '--name', 'other']);
    expect(same.code).toBe(1);
    expect(same.stderr).toMatch(new RegExp(`another node agent \\(pid ${n2.child.pid}\\) uses .*node-n2; give each agent its own --state directory`));
    const name = cluster.cli(['node', 'start', '--state', join(cluster.env.root, 'node-dup'), '--name', 'n2']);
    expect(name.code).toBe(1);
    expect(name.stderr).toMatch(/a node named "n2" is already registered and live; give this one another --name/);
  });

  it('removing an app stops its containers and unmounts its volumes', async () => {
    const apps = (await cluster.client.apps()).map((a) => a.name);
    expect(apps).toContain('keeper');
    for (const name of apps) expect(cluster.cli(['app', 'rm', name]).code).toBe(0);
    await cluster.waitFor('every container and mount to go', 30_000, () => {
      const left = [...cluster.agents.values()].flatMap((a) => [...runcList(join(a.state, 'runc')).map((c) => c.id), ...mountsUnder(a.state)]);
      return left.length === 0 ? true : undefined;
    });
    expect(await cluster.client.apps()).toEqual([]);
    const info = JSON.parse(cluster.cli(['volume', 'info', 'keep', '--json']).stdout) as { mounted_by: string | null };
    expect(info.mounted_by).toBeNull();
  }, 60_000);
});
