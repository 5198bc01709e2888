import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, cairn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('init');
let homes = 0;
const freshHome = () => join(root, `home-${++homes}`);
// Small Argon2id parameters keep the suite fast; the defaults are tested in test/crypto.
const FAST = ['--kdf-memory', '8MiB', '--kdf-passes', '1'];
const PASS = 'correct horse battery staple';

function atTerminal(args: string[], home: string, answers: string[]) {
  const r = spawnSync('python3', [join(REPO, 'test/helpers/at_terminal.py'), process.execPath, 'bin/cairn.js', ...args], {
    cwd: REPO,
    env: { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: '', PTY_ANSWERS: answers.join('\n') },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, output: r.stdout + r.stderr };
}

describe('cairn init', () => {
  it('creates a private keyring from $CAIRN_PASSPHRASE and never prints the passphrase', () => {
    const home = freshHome();
    const r = cairn(['init', ...FAST], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Created keyring ${join(home, 'keyring')}`));
    expect(r.stdout).toMatch(/Cluster id: [0-9a-f]{32}/);
    expect(r.stdout + r.stderr).not.toContain(PASS);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'keyring')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(home, 'keyring')).includes(Buffer.from(PASS))).toBe(false);
  });

  it('asks twice at a terminal without echoing, then the keyring opens with that passphrase', () => {
    const home = freshHome();
    const made = atTerminal(['init', ...FAST], home, [PASS, PASS]);
    expect(made.code).toBe(0);
    expect(made.output).toMatch(/New passphrase for the keyring: /);
    expect(made.output).toMatch(/Repeat it: /);
    expect(made.output).not.toContain(PASS);
    const check = atTerminal(['keyring', 'check'], home, [PASS]);
    expect(check.code).toBe(0);
    expect(check.output).toMatch(/opens/);
    expect(check.output).not.toContain(PASS);
  });

  it('at a terminal, two different answers are refused and nothing is written', () => {
    const home = freshHome();
    const r = atTerminal(['init', ...FAST], home, [PASS, 'something else']);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/the passphrases did not match/);
    expect(() => statSync(join(home, 'keyring'))).toThrow();
  });

  it('reads --passphrase-file (one trailing newline dropped)', () => {
    const home = freshHome();
    const file = join(root, 'pass.txt');
    writeFileSync(file, `${PASS}\n`);
    expect(cairn(['init', ...FAST, '--passphrase-file', file], { env: { CAIRN_HOME: home } }).code).toBe(0);
    const check = cairn(['keyring', 'check', '--json'], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS } });
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout).kdf).toEqual({ algorithm: 'argon2id', passes: 1, memory_bytes: 8 * 2 ** 20 });
  });

  it('refuses to run without any passphrase source, clearly', () => {
    const r = cairn(['init', ...FAST], { env: { CAIRN_HOME: freshHome(), CAIRN_PASSPHRASE: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no passphrase: set CAIRN_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal/);
  });

  it('bad passphrase files and bad KDF flags are usage errors', () => {
    const empty = join(root, 'empty.txt');
    writeFileSync(empty, '\n');
    const env = { CAIRN_HOME: freshHome() };
    expect(cairn(['init', '--passphrase-file', empty], { env }).stderr).toMatch(/is empty/);
    const missing = cairn(['init', '--passphrase-file', join(root, 'nope')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read passphrase file .*nope: ENOENT/);
    const weak = cairn(['init', '--kdf-memory', '1MiB'], { env: { ...env, CAIRN_PASSPHRASE: PASS } });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/Argon2id memory must be/);
    expect(readdirSync(root)).not.toContain(env.CAIRN_HOME.split('/').pop());
  });

  it('refuses to overwrite an existing keyring; --force keeps the old one as a backup', () => {
    const home = freshHome();
    const env = { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS };
    expect(cairn(['init', ...FAST], { env }).code).toBe(0);
    const before = readFileSync(join(home, 'keyring'));
    const again = cairn(['init', ...FAST], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a keyring already exists at .*keyring; `cairn init --force` replaces it/);
    expect(readFileSync(join(home, 'keyring')).equals(before)).toBe(true);

    const forced = cairn(['init', ...FAST, '--force', '--json'], { env });
    expect(forced.code).toBe(0);
    const { backup } = JSON.parse(forced.stdout);
    expect(readFileSync(backup).equals(before)).toBe(true);
    expect(readFileSync(join(home, 'keyring')).equals(before)).toBe(false);
  });
});

describe('cairn keyring', () => {
  it('a wrong passphrase is a clear error and changes nothing', () => {
    const home = freshHome();
    expect(cairn(['init', ...FAST], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS } }).code).toBe(0);
    const before = readFileSync(join(home, 'keyring'));
    const r = cairn(['keyring', 'check'], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: 'not it' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`cairn: wrong passphrase for the keyring at ${join(home, 'keyring')}`);
    const passwd = cairn(['keyring', 'passwd'], {
      env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: 'not it', CAIRN_NEW_PASSPHRASE: 'new one' },
    });
    expect(passwd.code).toBe(1);
    expect(readFileSync(join(home, 'keyring')).equals(before)).toBe(true);
  });

  it('passwd re-protects the same keys under a new passphrase', () => {
    const home = freshHome();
    const env = { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS };
    const id = JSON.parse(cairn(['init', ...FAST, '--json'], { env }).stdout).cluster_id;
    const r = cairn(['keyring', 'passwd', '--kdf-memory', '16MiB'], { env: { ...env, CAIRN_NEW_PASSPHRASE: 'new one' } });
    expect(r.code).toBe(0);
    expect(cairn(['keyring', 'check'], { env }).code).toBe(1);
    const check = cairn(['keyring', 'check', '--json'], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: 'new one' } });
    expect(JSON.parse(check.stdout)).toMatchObject({ cluster_id: id, kdf: { memory_bytes: 16 * 2 ** 20 } });
  });

  it('with no keyring, says to run cairn init', () => {
    const home = freshHome();
    const r = cairn(['keyring', 'check'], { env: { CAIRN_HOME: home, CAIRN_PASSPHRASE: PASS } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no keyring at .*; run `cairn init` first/);
  });
});
