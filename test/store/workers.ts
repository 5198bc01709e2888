import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { shardId } from '../../src/crypto/index.js';

/**
 * Starts files-worker.ts in separate node processes (the TypeScript runs
 * through ts-hooks.mjs), lets them all start at once, and collects what each
 * reports: the multi-process half of the FileStore tests.
 */

export type Task =
  | { kind: 'shards'; dir: string; name: string; own: number; shared: number }
  | { kind: 'leases'; dir: string; volumeId: string; holder: string; rounds: number }
  | { kind: 'heads'; dir: string; volumeId: string; name: string; rounds: number };

export interface ShardsOutcome {
  kept: string[];
  deleted: string[];
  shared: string[];
}

export interface LeasesOutcome {
  /** Epochs this holder took over at (accepted putLease with a higher epoch). */
  takeovers: number[];
  /** Epochs this holder renewed at (accepted putLease with its own epoch). */
  renewals: number[];
  conflicts: number;
}

export interface HeadsOutcome {
  /** Seqs of this writer's accepted heads, each with body `${name} ${seq}`. */
  accepted: number[];
  refused: number;
}

/** Shard bytes made from a label, so every process derives the same shared shards. */
export function labelledShard(label: string): { id: string; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(`${label} `.repeat(50));
  return { id: shardId(bytes), bytes };
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./files-worker.ts', import.meta.url));
const HOOKS = new URL('./ts-hooks.mjs', import.meta.url).href;
const REGISTER = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(HOOKS)})`;

/** Runs one worker per task, released together once all are ready; resolves with their outcomes in task order. */
export async function runWorkers<T>(tasks: readonly Task[]): Promise<T[]> {
  const children = tasks.map((task) => {
    const child = spawn(process.execPath, ['--import', REGISTER, WORKER, JSON.stringify(task)], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const line = async (what: string) => {
      const next = await lines.next();
      if (next.done) {
        const [code] = await exited;
        throw new Error(`worker for ${JSON.stringify(task)} exited (${code}) before ${what}:\n${stderr}`);
      }
      return next.value;
    };
    return { child, line, exited };
  });
  try {
    for (const { line } of children) await line('ready');
    for (const { child } of children) child.stdin.write('go\n');
    return await Promise.all(children.map(async ({ line }) => JSON.parse(await line('its outcome')) as T));
  } finally {
    for (const { child, exited } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    }
  }
}
