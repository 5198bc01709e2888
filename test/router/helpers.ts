/**
 * Real processes and sockets for the router tests: app instances
 * (fixtures/instance.mjs) and `cairn router start` as child processes, TLS
 * and UDP clients, the metrics endpoint. Every process started here is
 * killed by pid when the test file ends, pass or fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { get as httpGet } from 'node:http';
import { type RequestOptions, request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll } from 'vitest';
import { REPO } from '../helpers/cli.js';

const INSTANCE = `${REPO}/test/router/fixtures/instance.mjs`;
const BIN = `${REPO}/bin/cairn.js`;

export interface Child {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<Child>();
afterAll(async () => {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
});

/** Starts `node args...` and waits (bounded) for stdout to match `ready`. */
export async function start(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Child & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, CAIRN_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const c: Child = {
    child,
    output: () => `${out}${err}`,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      children.delete(c);
    },
  };
  children.add(c);
  const match = await new Promise<RegExpMatchArray | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 20_000);
    const check = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(ready.exec(out));
    });
  });
  if (!match) {
    await c.kill('SIGKILL');
    throw new Error(`${args.join(' ')} did not come up:\n${c.output()}`);
  }
  return { ...c, match };
}

export interface AppInstance extends Child {
  id: string;
  port: number;
}

export async function startInstance(
  mode: 'https' | 'http' | 'udp-echo' | 'tcp-echo',
  id: string,
  tls?: { cert: string; key: string },
): Promise<AppInstance> {
  const args = [INSTANCE, mode, id, ...(tls ? [tls.cert, tls.key] : [])];
  const c = await start(args, /listening (\d+)\n/);
  return { ...c, id, port: Number(c.match[1]) };
}

export interface RouterProcess extends Child {
  tls: number;
  metrics: number;
}

/** `cairn router start ARGS` on free ports (unless ARGS name them); waits for its listening line. */
export async function startRouterCli(args: string[]): Promise<RouterProcess> {
  const ports = args.includes('--listen-tls') ? [] : ['--listen-tls', '0', '--metrics', '0'];
  const c = await start([BIN, 'router', 'start', ...ports, ...args], /router listening: tls [\d.]+:(\d+), metrics http:\/\/[\d.]+:(\d+)/);
  return { ...c, tls: Number(c.match[1]), metrics: Number(c.match[2]) };
}

/** A port nobody listens on right now (UDP and TCP both free), for routes that own a port. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    const tcp = createServer();
    const free = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port found in 20 tries');
}

export interface Reply {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the client was shown. */
  fingerprint: string;
}

/** One HTTPS GET through `port` on loopback with SNI `host`, on a fresh connection. */
export function httpsGet(port: number, host: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: host, headers: { host }, path, agent: false, timeout: 10_000, ...options },
      (res) => {
        // Read now: a keep-alive agent takes the socket back once the body ends.
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.once('timeout', () => req.destroy(new Error('request timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** The error a TLS client gets on `port` for SNI `servername`, or undefined when the handshake completes. */
export function tlsError(port: number, options: ConnectionOptions): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err) => resolve(err));
  });
}

/** Sends one datagram from a fresh socket and waits for the first reply. */
export async function udpRoundTrip(port: number, text: string, socket = createSocket('udp4'), timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP reply from ${port}`)), timeoutMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      resolve(msg.toString());
    });
    socket.send(text, port, '127.0.0.1');
  });
}

/** Scrapes /metrics and returns each sample line's value by its full series name. */
export function scrape(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/metrics', timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const samples = new Map<string, number>();
        for (const line of text.split('\n')) {
          if (!line || line.startsWith('#')) continue;
          const at = line.lastIndexOf(' ');
          samples.set(line.slice(0, at), Number(line.slice(at + 1)));
        }
        resolve(samples);
      });
    }).once('error', reject);
  });
}

/** Polls `check` every 50 ms until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

export const series = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
