/**
 * `cairn bench router`: HTTPS requests per second and latency through the
 * router against straight to the instance, in the same run, in alternating
 * rounds. The router is `cairn router start` in its own process, the
 * instances are the tests' instance program (test/router/fixtures) in
 * theirs, and this process is the client.
 *
 * - passthrough: direct is HTTPS to the instance; through the router the
 *   same TLS session passes the router by SNI.
 * - terminate: direct is HTTPS to an instance serving the app certificate
 *   itself (what the app would do without the router); through the router,
 *   the router terminates TLS and forwards plain HTTP to an instance.
 *
 * Each runs with a new connection per request (a full TLS handshake, the
 * router's per-connection work) and over keep-alive connections (its
 * per-byte work). Only ratios mean much on a shared machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/repo/index.js';
import { ensureDevCa, issueCertificate } from '../../src/router/index.js';

export type RouterMode = 'passthrough' | 'terminate';
export type ConnectionUse = 'new' | 'keep-alive';

export interface RouterRow {
  mode: RouterMode;
  connections: ConnectionUse;
  direct_rps: number;
  router_rps: number;
  /** router / direct requests per second. */
  ratio_rps: number;
  direct_p50_ms: number;
  router_p50_ms: number;
  /** Latency the router adds at the median: router - direct. */
  added_p50_ms: number;
  ratio_p50: number;
  direct_p99_ms: number;
  router_p99_ms: number;
  added_p99_ms: number;
  ratio_p99: number;
}

export interface RouterBenchOptions {
  /** Seconds of one measurement round of one side. */
  seconds?: number;
  /** Alternating rounds per side. */
  rounds?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

const WEB = 'web-b0b0b0.bench.cairn.test';
const API = 'api-b0b0b0.bench.cairn.test';

interface Proc {
  child: ChildProcess;
  match: RegExpMatchArray;
}

function launch(args: string[], ready: RegExp, procs: Proc[]): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot(),
    env: { ...process.env, CAIRN_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${out}`)), 30_000);
    const check = (d: Buffer) => {
      out += d;
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      const p = { child, match };
      procs.push(p);
      resolve(p);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited: ${out.trim()}`));
    });
  });
}

interface Target {
  port: number;
  host: string;
}

interface Sample {
  rps: number;
  latencies: number[];
}

function once(target: Target, ca: Buffer, agent: Agent | false): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: target.port, servername: target.host, path: '/', headers: { host: target.host }, ca, agent },
      (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** `concurrency` clients requesting back to back for `ms`; every request's latency is kept. */
async function load(target: Target, ca: Buffer, use: ConnectionUse, concurrency: number, ms: number): Promise<Sample> {
  const agent = use === 'keep-alive' ? new Agent({ keepAlive: true, maxSockets: concurrency, ca }) : false;
  const latencies: number[] = [];
  try {
    if (agent) await Promise.all(Array.from({ length: concurrency }, () => once(target, ca, agent)));
    const start = performance.now();
    const end = start + ms;
    const worker = async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await once(target, ca, agent);
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { rps: latencies.length / ((performance.now() - start) / 1000), latencies };
  } finally {
    if (agent) agent.destroy();
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const r2 = (x: number) => Math.round(x * 100) / 100;
const r0 = (x: number) => Math.round(x);

export async function benchRouter(options: RouterBenchOptions = {}): Promise<RouterRow[]> {
  const seconds = options.seconds ?? 2;
  const rounds = options.rounds ?? 3;
  const concurrency = options.concurrency ?? 8;
  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-router-'));
  const procs: Proc[] = [];
  const instanceProgram = join(repoRoot(), 'test', 'router', 'fixtures', 'instance.mjs');
  const listening = /listening (\d+)\n/;
  try {
    const devCa = await ensureDevCa(join(root, 'ca'));
    const ca = readFileSync(devCa.cert);
    const webCert = await issueCertificate(devCa, WEB, join(root, 'certs'));
    const apiCert = await issueCertificate(devCa, API, join(root, 'certs'));
    const [web, apiTls, apiPlain] = await Promise.all([
      launch([instanceProgram, 'https', 'web', webCert.cert, webCert.key], listening, procs),
      launch([instanceProgram, 'https', 'api', apiCert.cert, apiCert.key], listening, procs),
      launch([instanceProgram, 'http', 'api'], listening, procs),
    ]);
    const port = (p: Proc) => Number(p.match[1]);
    const routes = join(root, 'routes.json');
    const route = (app: string, kind: string, p: Proc, extra = {}) => ({
      app,
      id: 'b0b0b0',
      zone: 'bench',
      kind,
      balance: 'round-robin',
      instances: [{ id: app, host: '127.0.0.1', port: port(p), healthy: true }],
      ...extra,
    });
    writeFileSync(
      routes,
      JSON.stringify({
        version: 1,
        domain: 'cairn.test',
        routes: [
          route('web', 'tls-passthrough', web),
          route('api', 'tls-terminate', apiPlain, { cert: apiCert.cert, key: apiCert.key }),
        ],
      }),
    );
    const router = await launch(
      [join(repoRoot(), 'bin', 'cairn.js'), 'router', 'start', '--routes', routes, '--listen-tls', '0', '--metrics', '0'],
      /router listening: tls [\d.]+:(\d+)/,
      procs,
    );
    const routerPort = Number(router.match[1]);

    const cases: { mode: RouterMode; direct: Target; routed: Target }[] = [
      { mode: 'passthrough', direct: { port: port(web), host: WEB }, routed: { port: routerPort, host: WEB } },
      { mode: 'terminate', direct: { port: port(apiTls), host: API }, routed: { port: routerPort, host: API } },
    ];
    const uses: ConnectionUse[] = ['new', 'keep-alive'];
    const total = cases.length * uses.length * rounds;
    let done = 0;
    const rows: RouterRow[] = [];
    for (const c of cases) {
      for (const use of uses) {
        const direct: Sample[] = [];
        const routed: Sample[] = [];
        for (let r = 0; r < rounds; r++) {
          options.onProgress?.(done++, total, `${c.mode} ${use} round ${r + 1}/${rounds}`);
          direct.push(await load(c.direct, ca, use, concurrency, seconds * 1000));
          routed.push(await load(c.routed, ca, use, concurrency, seconds * 1000));
        }
        const lat = (s: Sample[]) => s.flatMap((x) => x.latencies).sort((a, b) => a - b);
        const [d, t] = [lat(direct), lat(routed)];
        const [d50, t50, d99, t99] = [percentile(d, 50), percentile(t, 50), percentile(d, 99), percentile(t, 99)];
        const [drps, trps] = [median(direct.map((s) => s.rps)), median(routed.map((s) => s.rps))];
        rows.push({
          mode: c.mode,
          connections: use,
          direct_rps: r0(drps),
          router_rps: r0(trps),
          ratio_rps: r2(trps / drps),
          direct_p50_ms: r2(d50),
          router_p50_ms: r2(t50),
          added_p50_ms: r2(t50 - d50),
          ratio_p50: r2(t50 / d50),
          direct_p99_ms: r2(d99),
          router_p99_ms: r2(t99),
          added_p99_ms: r2(t99 - d99),
          ratio_p99: r2(t99 / d99),
        });
      }
    }
    options.onProgress?.(total, total, 'done');
    return rows;
  } finally {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            p.child.removeAllListeners('exit');
            p.child.once('exit', () => resolve());
            p.child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(root, { recursive: true, force: true });
  }
}
