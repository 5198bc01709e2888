#!/usr/bin/env node
// `npm run demo`: the story of a volume, told with the real `cairn` command
// on a throwaway local cluster (its own $CAIRN_HOME and stores in a temp dir):
// create a volume, let a container write to it, mount it and read it back,
// show that the stores hold only ciphertext, then lose two stores and read it
// all the same.
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

try {
  console.log(`Cairn demo in ${root} (a throwaway $CAIRN_HOME and six local stores)`);
  say('A keyring: the master key, sealed under a passphrase (here a random one in $CAIRN_PASSPHRASE).');
  cairn(['init', '--kdf-memory', '16MiB', '--kdf-passes', '2']);

  say('A volume: every block encrypted, Reed-Solomon coded 4+2, spread over six stores.');
  cairn(['volume', 'create', 'demo']);

  say('A container (runc, busybox) writes to the volume at /data.');
  cairn(['run', '--volume', 'demo:/data', '--', 'sh', '-c', `echo "${MESSAGE}" > /data/hello.txt; mkdir /data/notes; seq 1 50000 > /data/notes/numbers; ls -l /data`]);

  say('Mount it on the host (FUSE) and read it back.');
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  let m = await mount('demo', dir);
  console.log(`     hello.txt: ${readFileSync(join(dir, 'hello.txt'), 'utf8').trim()}`);
  console.log(`     notes/numbers: ${readFileSync(join(dir, 'notes', 'numbers'), 'utf8').split('\n').length - 1} lines`);
  await m.stop();

  say('What the stores hold: shards named by their hashes, no names, no plaintext.');
  const shards = files(env.CAIRN_STORES);
  const leaks = shards.filter((f) => {
    const b = readFileSync(f);
    return b.includes(MESSAGE) || b.includes('hello.txt') || b.includes('numbers');
  });
  console.log(`     ${shards.length} files in ${env.CAIRN_STORES}, e.g. ${shards.find((f) => f.includes('shards'))?.slice(env.CAIRN_STORES.length + 1)}`);
  console.log(`     files containing the message or a file name: ${leaks.length}`);
  if (leaks.length > 0) throw new Error('plaintext found in the stores');

  say('Lose two of the six stores entirely; any four shards of every stripe are enough.');
  for (const s of ['store-0', 'store-1']) rmSync(join(env.CAIRN_STORES, s, 'shards'), { recursive: true, force: true });
  m = await mount('demo', dir, ['--read-only']);
  const back = readFileSync(join(dir, 'hello.txt'), 'utf8').trim();
  console.log(`     hello.txt: ${back}`);
  await m.stop();
  if (back !== MESSAGE) throw new Error('the volume did not read back');

  console.log('\nDone. `npx cairn --help` lists the commands; README.md has the tour.');
} catch (err) {
  console.error(`\ndemo failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  spawnSync('fusermount', ['-uz', join(root, 'mnt')]);
  rmSync(root, { recursive: true, force: true });
}
