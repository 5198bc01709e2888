/**
 * A throwaway Cairn installation for integration tests: its own $CAIRN_HOME,
 * its own $CAIRN_STORES, a keyring, and `cairn mount` processes that are
 * always stopped and unmounted afterwards, even when a test fails.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { REPO, cairn, cairnAsync, runAsync } from './cli.js';

const BIN = join(REPO, 'bin', 'cairn.js');
export const PASSPHRASE = 'integration test passphrase';

export interface Mount {
  dir: string;
  child: ChildProcess;
  output: () => string;
  /** SIGTERM: the mount commits and unmounts; resolves with its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

export class CairnEnv {
  readonly root: string;
  home: string;
  readonly stores: string;
  readonly #mounts = new Set<Mount>();

  constructor(prefix: string) {
    this.root = mkdtempSync(join(tmpdir(), `cairn-${prefix}-`));
    this.home = join(this.root, 'home');
    this.stores = join(this.root, 'stores');
    afterEach(() => this.cleanupMounts());
    afterAll(async () => {
      await this.cleanupMounts();
      rmSync(this.root, { recursive: true, force: true });
    });
  }

  get env(): NodeJS.ProcessEnv {
    return { CAIRN_HOME: this.home, CAIRN_STORES: this.stores, CAIRN_PASSPHRASE: PASSPHRASE };
  }

  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    return cairn(args, { env: { ...this.env, ...extraEnv } });
  }

  /** run() without blocking this process (which may host a DHT testnet the command needs). */
  runAsync(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    return cairnAsync(args, { env: { ...this.env, ...extraEnv } });
  }

  /** cairn init with small Argon2id parameters (the defaults are tested elsewhere). */
  init(): void {
    const r = this.run(['init', '--kdf-memory', '8MiB', '--kdf-passes', '1']);
    if (r.code !== 0) throw new Error(`cairn init failed: ${r.stderr}`);
  }

  dir(name: string): string {
    const d = join(this.root, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Starts `cairn mount` and waits for its "mounted" line (or its exit). */
  async mount(volume: string, dir: string, flags: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Mount> {
    const child = spawn(process.execPath, [BIN, 'mount', volume, dir, ...flags], {
      cwd: REPO,
      env: { ...process.env, ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const mount: Mount = {
      dir,
      child,
      output: () => out,
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
        spawnSync('fusermount', ['-uz', dir]);
      },
    };
    this.#mounts.add(mount);
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => {
        const check = () => (out.includes('mounted ') ? resolve(true) : setTimeout(check, 50));
        check();
      }),
      exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
    ]);
    if (!ready) {
      child.kill('SIGKILL');
      throw new Error(`cairn mount ${volume} did not come up: ${out}`);
    }
    return mount;
  }

  /** A second machine: its own $CAIRN_HOME holding a copy of the keyring, the same stores. */
  otherMachine(name: string): NodeJS.ProcessEnv {
    const home = this.dir(name);
    copyFileSync(join(this.home, 'keyring'), join(home, 'keyring'));
    return { CAIRN_HOME: home };
  }

  async cleanupMounts(): Promise<void> {
    for (const m of this.#mounts) {
      if (m.child.exitCode === null && m.child.signalCode === null) {
        m.child.kill('SIGTERM');
        await new Promise((resolve) => {
          const t = setTimeout(() => {
            m.child.kill('SIGKILL');
            resolve(undefined);
          }, 10_000);
          m.child.on('exit', () => {
            clearTimeout(t);
            resolve(undefined);
          });
        });
      }
      spawnSync('fusermount', ['-uz', m.dir]);
    }
    this.#mounts.clear();
  }
}

/** Runs a shell command (outside the mounting process, as a user would) and returns its result. */
export function sh(command: string, cwd?: string) {
  const r = spawnSync('bash', ['-c', command], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** sh() without blocking this process. */
export function shAsync(command: string, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runAsync('bash', ['-c', command], { cwd });
}
