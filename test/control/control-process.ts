/** `cairn control start` as a child process, for tests that drive it with the (synchronous) CLI helper. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';

export const BIN = join(REPO, 'bin', 'cairn.js');

export interface ControlProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Resolves once the process printed a line matching `ready` (its first group), or rejects when it exits first. */
export function waitForLine(child: ChildProcess, ready: RegExp, timeoutMs: number, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = ready.exec(output());
      if (m) {
        clearInterval(timer);
        clearTimeout(deadline);
        resolve(m[1] ?? m[0]);
      }
    };
    const timer = setInterval(check, 25);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no ${ready} within ${timeoutMs} ms: ${output()}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      reject(new Error(`exited (${code}) before ${ready}: ${output()}`));
    });
  });
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill(signal);
  });
}

export async function startControlProcess(state: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ControlProcess> {
  const child = spawn(process.execPath, [BIN, 'control', 'start', '--state', state, '--port', '0', ...args], {
    cwd: REPO,
    env: { ...process.env, CAIRN_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d));
  child.stderr?.on('data', (d: Buffer) => (out += d));
  const output = () => out;
  try {
    const url = await waitForLine(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000, output);
    return { url, child, output, stop: () => stopProcess(child) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
