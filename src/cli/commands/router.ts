import { join } from 'node:path';
import type { Command } from 'commander';
import { resolveHome } from '../../cluster/index.js';
import { UsageError } from '../../errors/index.js';
import { ROUTER_DEFAULTS, ensureDevCa, issueCertificate, startRouter } from '../../router/index.js';
import { benchRouter } from '../../../bench/router/index.js';
import { asFlag, parseCount, parseDuration, parsePort } from '../parse.js';
import { progressBar } from '../progress.js';
import { untilSignal } from '../signals.js';
import { printTable } from '../table.js';
import { commandGroup } from '../group.js';

function parseControlUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL; use e.g. http://127.0.0.1:7070`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--control needs an http(s) URL`);
  return url.toString();
}

interface StartFlags {
  routes?: string;
  control?: string;
  host: string;
  listenTls: number;
  metrics: number;
  helloTimeout: number;
  idleTimeout: number;
  connectTimeout: number;
  drainTimeout: number;
  udpIdleTimeout: number;
  healthInterval: number;
  maxConnections: number;
}

const devDirs = (base: string) => ({ ca: join(base, 'ca'), certs: join(base, 'certs') });

export function registerRouter(program: Command): void {
  const router = commandGroup(program, 'router', 'the entrypoint router: public names to app instances (TLS by SNI, TCP, UDP by port)');

  router
    .command('start')
    .description('run the router in the foreground (Ctrl-C or SIGTERM drains and stops)')
    .option('--routes <file>', 'read the route table from FILE (JSON, docs/ROUTER.md); re-read when it changes')
    .option('--control <url>', 'poll the control plane at URL/v1/routes every second', asFlag(parseControlUrl))
    .option('--host <addr>', 'address every port binds', ROUTER_DEFAULTS.host)
    .option('--listen-tls <port>', 'the TLS port, routed by SNI (0: any free port)', asFlag(parsePort), 8443)
    .option('--metrics <port>', 'Prometheus /metrics port (0: any free port)', asFlag(parsePort), 9464)
    .option('--hello-timeout <duration>', 'time a client has to send its ClientHello', asFlag(parseDuration), ROUTER_DEFAULTS.helloTimeoutMs)
    .option('--idle-timeout <duration>', 'close a connection idle this long', asFlag(parseDuration), ROUTER_DEFAULTS.idleTimeoutMs)
    .option('--connect-timeout <duration>', 'time to connect to an instance', asFlag(parseDuration), ROUTER_DEFAULTS.connectTimeoutMs)
    .option('--drain-timeout <duration>', 'how long connections to a removed instance may go on', asFlag(parseDuration), ROUTER_DEFAULTS.drainTimeoutMs)
    .option('--udp-idle-timeout <duration>', 'forget a UDP session idle this long', asFlag(parseDuration), ROUTER_DEFAULTS.udpIdleTimeoutMs)
    .option('--health-interval <duration>', 'time between active health checks', asFlag(parseDuration), 2_000)
    .option('--max-connections <n>', 'client connections at most', asFlag(parseCount), ROUTER_DEFAULTS.maxConnections)
    .action(async (flags: StartFlags) => {
      if (!!flags.routes === !!flags.control) throw new UsageError('give one of --routes FILE or --control URL');
      const r = await startRouter({
        host: flags.host,
        tlsPort: flags.listenTls,
        metricsPort: flags.metrics,
        routesFile: flags.routes,
        controlUrl: flags.control,
        helloTimeoutMs: flags.helloTimeout,
        idleTimeoutMs: flags.idleTimeout,
        connectTimeoutMs: flags.connectTimeout,
        drainTimeoutMs: flags.drainTimeout,
        udpIdleTimeoutMs: flags.udpIdleTimeout,
        health: { intervalMs: flags.healthInterval, timeoutMs: Math.min(flags.healthInterval, 1_000) },
        maxConnections: flags.maxConnections,
      });
      const { tls, metrics, routes } = r.ports;
      process.stdout.write(`router listening: tls ${r.host}:${tls}, metrics http://${r.host}:${metrics}/metrics\n`);
      for (const [host, port] of Object.entries(routes)) process.stdout.write(`  ${host} on port ${port}\n`);
      const signal = await untilSignal();
      process.stderr.write(`${signal}: draining for up to ${Math.min(flags.drainTimeout, 10_000)} ms\n`);
      await r.close(Math.min(flags.drainTimeout, 10_000));
      process.stdout.write('router stopped\n');
    });

  router
    .command('cert <host...>')
    .description('issue certificates for HOSTs from the local dev CA (made on first use) for tls-terminate routes')
    .option('--dir <dir>', 'where the CA and certificates live (default $CAIRN_HOME/router)')
    .action(async (hosts: string[], flags: { dir?: string }) => {
      const dirs = devDirs(flags.dir ?? join(resolveHome(), 'router'));
      const ca = await ensureDevCa(dirs.ca);
      process.stdout.write(`dev CA certificate (give it to clients to trust): ${ca.cert}\n`);
      for (const host of hosts) {
        const issued = await issueCertificate(ca, host, dirs.certs);
        process.stdout.write(`${issued.host}: cert ${issued.cert} key ${issued.key}\n`);
      }
    });
}

/** `cairn bench router`, registered by the bench command next to the others. */
export function registerRouterBench(bench: Command): void {
  bench
    .command('router')
    .description('HTTPS req/s and latency through the router vs straight to the instance (passthrough, termination)')
    .option('--json', 'print one JSON object instead of a table')
    .option('--seconds <n>', 'seconds per measurement round per side', asFlag(parseCount), 2)
    .option('--rounds <n>', 'alternating rounds per side (req/s: the median round; latency: all requests)', asFlag(parseCount), 3)
    .option('--concurrency <n>', 'requests in flight at once', asFlag(parseCount), 8)
    .action(async (flags: { json?: boolean; seconds: number; rounds: number; concurrency: number }) => {
      const progress = progressBar();
      const results = await benchRouter({ ...flags, onProgress: flags.json ? undefined : progress.update });
      progress.end();
      if (flags.json) {
        const { seconds, rounds, concurrency } = flags;
        process.stdout.write(`${JSON.stringify({ bench: 'router', seconds, rounds, concurrency, results })}\n`);
        return;
      }
      printTable(
        ['mode', 'connections', 'direct req/s', 'router req/s', 'ratio', 'p50 direct', 'p50 router', 'added', 'p99 direct', 'p99 router', 'added'],
        results.map((r) => [
          r.mode,
          r.connections,
          String(r.direct_rps),
          String(r.router_rps),
          `${r.ratio_rps.toFixed(2)}x`,
          r.direct_p50_ms.toFixed(2),
          r.router_p50_ms.toFixed(2),
          r.added_p50_ms.toFixed(2),
          r.direct_p99_ms.toFixed(2),
          r.router_p99_ms.toFixed(2),
          r.added_p99_ms.toFixed(2),
        ]),
      );
      process.stdout.write(
        `latency in ms; baseline: straight to the instance over HTTPS in the same run; ${flags.concurrency} in flight\n`,
      );
    });
}
