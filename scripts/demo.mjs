#!/usr/bin/env node
// `npm run demo`: the story of a volume, told with the real `cairn` command
// on the embedded cluster (`cairn dev up`: a DHT testnet on 127.0.0.1 and
// eight storage peer processes, with a throwaway $CAIRN_HOME in a temp dir):
// create a volume on the peers, let a container write to it, mount it and
// read it back, show that the peers hold only ciphertext, lose two peers and
// read it all the same, then repair it back to full redundancy.
import { spawn, spawnSync } from 'node:child_process';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'cairn-demo-'));
const env = {
  ...process.env,
  CAIRN_HOME: join(root, 'home'),
  CAIRN_STORES: join(root, 'stores'),
  CAIRN_PASSPHRASE: randomBytes(12).toString('hex'),
  // The long-running parts log structured lines to stderr; the story shows only warnings.
  CAIRN_LOG: 'warn',
};
const MESSAGE = 'Hello from a container, sealed and coded';
let step = 0;
const say = (text) => console.log(`\n${++step}. ${text}`);

function cairn(args, { quiet = false } = {}) {
  if (!quiet) console.log(`   $ cairn ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trimEnd();
  if (!quiet && out) console.log(out.replace(/^/gm, '     '));
  if (r.status !== 0) throw new Error(`cairn ${args[0]} failed (exit ${r.status})`);
  return r.stdout;
}

/** A long-running `cairn` command in the background; resolves once its output matches `ready`. */
function background(args, ready, extraEnv = {}) {
  console.log(`   $ cairn ${args.join(' ')} &`);
  const child = spawn(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  started.push({ child, exited });
  return new Promise((resolve, reject) => {
    const wait = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(wait);
        resolve({
          child,
          out: () => out,
          exited,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            await exited;
          },
        });
      }
    }, 50);
    exited.then((code) => {
      clearInterval(wait);
      reject(new Error(`cairn ${args[0]} exited (${code}): ${out}`));
    });
  });
}

/** GET https://HOST:PORT/PATH through the router (SNI = HOST), trusting the dev CA. */
function viaRouter(host, port, path, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const started = [];

/** `cairn dev up` in the background, with its peers (key prefix, zone, pid) once it is up. */
async function devUp(peers) {
  const up = await background(['dev', 'up', '--peers', String(peers)], /Ctrl-C stops the cluster\./);
  console.log(up.out().trimEnd().replace(/^/gm, '     '));
  const list = [...up.out().matchAll(/peer ([0-9a-f]{16})\s+(\S+)\s+pid (\d+)/g)].map((m) => ({ key: m[1], zone: m[2], pid: Number(m[3]) }));
  return { ...up, peers: list, stop: () => up.stop('SIGINT') };
}

/** `cairn mount` in the background; its `stop` commits and unmounts. */
async function mount(name, dir, flags = []) {
  const m = await background(['mount', name, dir, ...flags], /mounted /);
  console.log(`     ${m.out().trim()}`);
  return m;
}

const files = (dir) =>
  readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());

let cluster;
try {
  console.log(`Cairn demo in ${root} (a throwaway $CAIRN_HOME)`);
  say('A keyring: the master key, sealed under a passphrase (here a random one in $CAIRN_PASSPHRASE).');
  cairn(['init', '--kdf-memory', '16MiB', '--kdf-passes', '2']);

  say('The embedded cluster: eight storage peers, each its own process and zone, on a loopback DHT.');
  cluster = await devUp(8);
  cairn(['peer', 'ls']);

  say('A volume on the peers: every block encrypted here, Reed-Solomon coded 4+2, one shard per peer.');
  cairn(['volume', 'create', 'demo', '--backend', 'peers']);

  say('A container (runc, busybox) writes to the volume at /data.');
  cairn(['run', '--volume', 'demo:/data', '--', 'sh', '-c', `echo "${MESSAGE}" > /data/hello.txt; mkdir /data/notes; seq 1 200000 > /data/notes/numbers; ls -l /data`]);

  say('Mount it on the host (FUSE) and read it back.');
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  let m = await mount('demo', dir);
  const numbers = readFileSync(join(dir, 'notes', 'numbers'), 'utf8');
  console.log(`     hello.txt: ${readFileSync(join(dir, 'hello.txt'), 'utf8').trim()}`);
  console.log(`     notes/numbers: ${numbers.split('\n').length - 1} lines`);
  await m.stop();

  say('What the peers hold: shards named by their hashes, no names, no plaintext.');
  const peerDir = join(env.CAIRN_HOME, 'dev');
  const shards = files(peerDir).filter((f) => f.includes('/shards/'));
  const leaks = files(peerDir).filter((f) => {
    const b = readFileSync(f);
    return b.includes(MESSAGE) || b.includes('hello.txt') || b.includes('numbers');
  });
  console.log(`     ${shards.length} shard files under ${peerDir}, e.g. ${shards[0]?.slice(peerDir.length + 1)}`);
  console.log(`     files containing the message or a file name: ${leaks.length}`);
  if (leaks.length > 0) throw new Error('plaintext found on the peers');

  const lost = cluster.peers.slice(0, 2);
  say(`Lose two peers (kill -9 ${lost.map((p) => p.pid).join(' ')}): any four shards of every stripe are enough.`);
  for (const p of lost) process.kill(p.pid, 'SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 6000));
  cairn(['peer', 'ls']);
  m = await mount('demo', dir, ['--read-only']);
  const back = readFileSync(join(dir, 'hello.txt'), 'utf8').trim();
  const numbersBack = readFileSync(join(dir, 'notes', 'numbers'), 'utf8');
  console.log(`     hello.txt: ${back}`);
  console.log(`     notes/numbers: ${numbersBack === numbers ? 'identical' : 'DIFFERENT'}`);
  await m.stop();
  if (back !== MESSAGE || numbersBack !== numbers) throw new Error('the volume did not read back');

  say('Repair: rebuild the lost shards from any four, onto the peers that are up, in zones the stripe does not use.');
  cairn(['repair', 'demo']);
  cairn(['repair', 'demo']);
  cairn(['peer', 'ls']);


  say('Apps: two node agents, the entrypoint router, and an app whose data lives on a volume on the peers.');
  const control = /control plane listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cluster.out())[1];
  const withControl = { CAIRN_CONTROL: control };
  const agents = {};
  for (const [name, zone] of [['n1', 'zone-1'], ['n2', 'zone-2']]) {
    agents[name] = await background(['node', 'start', '--state', join(root, name), '--name', name, '--zone', zone], /registered with/, withControl);
  }
  const router = await background(['router', 'start', '--control', control, '--listen-tls', '0', '--metrics', '0'], /router listening: tls 127\.0\.0\.1:\d+/);
  const tlsPort = Number(/router listening: tls 127\.0\.0\.1:(\d+)/.exec(router.out())[1]);
  cairn(['volume', 'create', 'site', '--backend', 'peers']);
  const spec = join(root, 'site.yaml');
  writeFileSync(
    spec,
    [
      'name: site',
      'command: |',
      '  [ -f /data/index.html ] || { echo "Hello through the router, from a volume on the peers" > /data/index.html && sync /data/index.html; }',
      '  exec httpd -f -p "$PORT" -h /data',
      'ports:',
      '  - name: web',
      '    protocol: http',
      'volumes:',
      '  - name: site',
      '    path: /data',
      'health:',
      '  type: http',
      '  path: /index.html',
      '',
    ].join('\n'),
  );
  console.log(`     ${spec}:\n${readFileSync(spec, 'utf8').trimEnd().replace(/^/gm, '       ')}`);
  const deployed = cairn(['app', 'deploy', spec, '--wait', '--control', control]);
  const host = /^\s+(site-[a-z0-9]+\.zone-1\.cairn\.test)$/m.exec(deployed)[1];
  const ca = readFileSync(join(env.CAIRN_HOME, 'dev', 'ca', 'ca.crt'));
  // The router picks the new route up from the control plane within a second or two.
  let first;
  for (let i = 0; i < 40 && first?.status !== 200; i++) {
    first = await viaRouter(host, tlsPort, '/index.html', ca).catch(() => undefined);
    if (first?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(`   GET https://${host}:${tlsPort}/index.html (TLS terminated by the router with a dev CA certificate)`);
  console.log(`     ${first?.status} ${first?.body.trim()}`);
  if (first?.status !== 200) throw new Error('the app did not answer through the router');

  const where = () => JSON.parse(cairn(['app', 'ls', '--json', '--control', control], { quiet: true }))[0].instances[0];
  const before = where();
  say(`Lose the node running it: kill -9 the agent ${before.node} (pid ${agents[before.node].child.pid}).`);
  const t0 = Date.now();
  agents[before.node].child.kill('SIGKILL');
  let after;
  for (let i = 0; i < 120; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = where();
    if (now.node !== before.node && now.status?.state === 'running' && now.status?.healthy) {
      const r = await viaRouter(host, tlsPort, '/index.html', ca).catch(() => undefined);
      if (r?.status === 200) {
        after = { node: now.node, body: r.body, seconds: (Date.now() - t0) / 1000, epoch: now.status.volumes?.[0]?.epoch };
        break;
      }
    }
  }
  if (!after) throw new Error('the app did not come back on another node');
  console.log(`     back on ${after.node} after ${after.seconds.toFixed(1)} s, volume lease epoch ${after.epoch} (the lost node is fenced off)`);
  console.log(`     GET https://${host}:${tlsPort}/index.html: ${after.body.trim()}`);
  cairn(['app', 'ls', '--control', control]);
  // The killed agent's leftovers (its container, its dead mount) are cleared when it starts again.
  agents[before.node] = await background(['node', 'start', '--state', join(root, before.node), '--name', before.node, '--zone', before.node === 'n1' ? 'zone-1' : 'zone-2'], /registered with/, withControl);
  cairn(['app', 'rm', 'site', '--control', control]);

  console.log('\nDone. `npx cairn --help` lists the commands; README.md has the tour.');
} catch (err) {
  console.error(`\ndemo failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  spawnSync('fusermount', ['-uz', join(root, 'mnt')]);
  // Agents and the router first (they commit and unmount), then the cluster they use.
  for (const { child, exited } of started.reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
}
