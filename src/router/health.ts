/**
 * Active health checks: every interval, each instance of a route with a
 * `health` entry gets a TCP connect or an HTTP GET (over TLS, unverified, for
 * passthrough routes whose instances speak TLS themselves). An instance is
 * taken out after `fall` failures in a row and put back after `rise`
 * successes. One check per instance at a time; every check has a timeout.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Logger } from '../log/index.js';
import type { Instance, Pool } from './balancer.js';
import { type HealthCheck, type Route, routeName } from './types.js';

export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
  fall: number;
  rise: number;
}

export const DEFAULT_HEALTH: HealthOptions = { intervalMs: 2_000, timeoutMs: 1_000, fall: 2, rise: 2 };

export interface ProbeOptions {
  timeoutMs: number;
  /** For an HTTP check over TLS: the SNI to send (the certificate is not verified: liveness, not trust). */
  tlsServername?: string;
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function probeHttp(host: string, port: number, path: string, o: ProbeOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { host, port, path, method: 'GET', agent: false, signal: AbortSignal.timeout(o.timeoutMs) };
    const req = o.tlsServername
      ? httpsRequest({ ...options, servername: o.tlsServername, rejectUnauthorized: false })
      : httpRequest(options);
    req.once('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
      res.once('end', () => req.destroy());
    });
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** One health check of host:port: a TCP connect, or an HTTP GET answered 2xx or 3xx; false on timeout. */
export function probe(host: string, port: number, check: HealthCheck, options: ProbeOptions): Promise<boolean> {
  return check.type === 'tcp' ? probeTcp(host, port, options.timeoutMs) : probeHttp(host, port, check.path, options);
}

interface Watched {
  route: Route;
  pool: Pool;
  timer: NodeJS.Timeout;
}

export class HealthChecker {
  readonly #watched = new Map<string, Watched>();
  readonly #inFlight = new Set<Instance>();
  readonly #streak = new WeakMap<Instance, number>();

  constructor(
    readonly options: HealthOptions,
    readonly log: Logger,
  ) {}

  /** Checks this route's instances from now on (replacing an earlier watch of the same route). */
  watch(route: Route, pool: Pool): void {
    this.unwatch(routeName(route));
    const check = route.health;
    if (!check || route.kind === 'udp') return;
    const tick = () => {
      for (const i of pool.instances) void this.#check(route, check, i);
    };
    const timer = setInterval(tick, this.options.intervalMs);
    timer.unref();
    this.#watched.set(routeName(route), { route, pool, timer });
    tick();
  }

  unwatch(name: string): void {
    const w = this.#watched.get(name);
    if (!w) return;
    clearInterval(w.timer);
    this.#watched.delete(name);
  }

  close(): void {
    for (const name of [...this.#watched.keys()]) this.unwatch(name);
  }

  async #check(route: Route, check: HealthCheck, i: Instance): Promise<void> {
    if (this.#inFlight.has(i)) return;
    this.#inFlight.add(i);
    try {
      const ok = await probe(i.host, i.port, check, {
        timeoutMs: this.options.timeoutMs,
        tlsServername: route.kind === 'tls-passthrough' ? route.host : undefined,
      });
      // Positive streaks count successes, negative ones failures.
      const before = this.#streak.get(i) ?? 0;
      const streak = ok ? Math.max(before, 0) + 1 : Math.min(before, 0) - 1;
      this.#streak.set(i, Math.max(-1000, Math.min(1000, streak)));
      const verdict = streak >= this.options.rise ? true : -streak >= this.options.fall ? false : i.checkHealthy;
      if (verdict !== i.checkHealthy && !i.draining) {
        i.checkHealthy = verdict;
        const line = { route: routeName(route), instance: i.id, check: check.type };
        if (verdict) this.log.info(line, 'instance passed its health checks');
        else this.log.warn(line, 'instance failed its health checks');
      }
    } finally {
      this.#inFlight.delete(i);
    }
  }
}
