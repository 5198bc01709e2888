#!/usr/bin/env node
// `npm run demo`: the story of a volume, told with the real `cairn` command
// on the embedded cluster (`cairn dev up`: a DHT testnet on 127.0.0.1 and
// eight storage peer processes, with a throwaway $CAIRN_HOME in a temp dir):
// create a volume on the peers, let a container write to it, mount it and
// read it back, show that the peers hold only ciphertext, lose two peers and
// read it all the same, then repair it back to full redundancy.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
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
};
const MESSAGE = 'Hello from a container, sealed and coded';
let step = 0;
const say = (text) => console.log(`\n${++step}. ${text}`);

function cairn(args, { quiet = false } = {}) {
  console.log(`   $ cairn ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trimEnd();
  if (!quiet && out) console.log(out.replace(/^/gm, '     '));
  if (r.status !== 0) throw new Error(`cairn ${args[0]} failed (exit ${r.status})`);
  return r.stdout;
}

/** `cairn dev up` in the background; resolves with its peers (key prefix, zone, pid) once it is up. */
function devUp(peers) {
  console.log(`   $ cairn dev up --peers ${peers} &`);
  const child = spawn(process.execPath, [cli, 'dev', 'up', '--peers', String(peers)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const wait = setInterval(() => {
      if (out.includes('Ctrl-C stops the cluster.')) {
        clearInterval(wait);
        console.log(out.trimEnd().replace(/^/gm, '     '));
        const list = [...out.matchAll(/peer ([0-9a-f]{16})\s+(\S+)\s+pid (\d+)/g)].map((m) => ({ key: m[1], zone: m[2], pid: Number(m[3]) }));
        resolve({
          peers: list,
          stop: async () => {
            child.kill('SIGINT');
            await exited;
          },
        });
      }
    }, 50);
    exited.then((code) => {
      clearInterval(wait);
      reject(new Error(`cairn dev up exited (${code}): ${out}`));
    });
  });
}

function mount(name, dir, flags = []) {
  console.log(`   $ cairn mount ${name} ${dir} ${flags.join(' ')}`.trimEnd());
  const child = spawn(process.execPath, [cli, 'mount', name, dir, ...flags], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const wait = setInterval(() => {
      if (out.includes('mounted ')) {
        clearInterval(wait);
        console.log(`     ${out.trim()}`);
        resolve({
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    }, 50);
    exited.then((code) => {
      clearInterval(wait);
      reject(new Error(`cairn mount exited (${code}): ${out}`));
    });
  });
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

  console.log('\nDone. `npx cairn --help` lists the commands; README.md has the tour.');
} catch (err) {
  console.error(`\ndemo failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  spawnSync('fusermount', ['-uz', join(root, 'mnt')]);
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
}
