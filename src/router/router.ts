/**
 * startRouter(): the shared TLS port, the ports of UDP and port-routed TCP
 * routes, health checks, metrics, and the route table they all read. A new
 * table changes where the next connections go; established ones keep their
 * instance, and connections to an instance that left the table are cut only
 * after the drain timeout.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { type SecureContext, createSecureContext } from 'node:tls';
import { type Logger, createLogger } from '../log/index.js';
import { DEFAULT_EJECTION, type EjectionPolicy, type Instance, Pool } from './balancer.js';
import { ListenError } from './errors.js';
import type { Forwarder } from './forward.js';
import { DEFAULT_HEALTH, HealthChecker, type HealthOptions } from './health.js';
import { type Labels, RouterMetrics, serveMetrics } from './metrics.js';
import { type PortListener, TcpPortListener, UdpPortListener } from './port-listeners.js';
import { type Source, pollControl, watchRoutesFile } from './sources.js';
import { parseRouteTable, readRouteTableFile } from './table.js';
import { type TlsTarget, TlsListener, UNKNOWN_ROUTE } from './tls-listener.js';
import { type Route, type RouteTable, routeName, routedBySni } from './types.js';

export interface RouterOptions {
  /** Address every listener binds; default 127.0.0.1. */
  host?: string;
  /** The shared TLS port; default 0 (any free port, see ports.tls). */
  tlsPort?: number;
  /** The metrics port; default 0 (any free port); false for none. */
  metricsPort?: number | false;
  /** The first table; with routesFile or controlUrl, later tables come from there. */
  routes?: RouteTable | unknown;
  routesFile?: string;
  controlUrl?: string;
  controlPollMs?: number;
  helloTimeoutMs?: number;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  drainTimeoutMs?: number;
  udpIdleTimeoutMs?: number;
  maxPendingHellos?: number;
  maxConnections?: number;
  maxUdpSessions?: number;
  health?: Partial<HealthOptions>;
  ejection?: Partial<EjectionPolicy>;
  logger?: Logger;
}

export const ROUTER_DEFAULTS = {
  host: '127.0.0.1',
  helloTimeoutMs: 5_000,
  idleTimeoutMs: 600_000,
  connectTimeoutMs: 3_000,
  drainTimeoutMs: 30_000,
  udpIdleTimeoutMs: 30_000,
  maxPendingHellos: 1_024,
  maxConnections: 10_000,
  maxUdpSessions: 4_096,
} as const;

export interface RouterPorts {
  tls: number;
  metrics: number | undefined;
  /** Bound ports of the routes that own one (udp, and tcp with listenPort), by route name (host:port/protocol). */
  routes: Record<string, number>;
}

export interface Router {
  readonly host: string;
  readonly ports: RouterPorts;
  /** The table in force. */
  readonly table: RouteTable;
  /** Checks and applies a table. Throws RouteTableError (nothing changed) or ListenError (a route's port could not be opened; the rest applied). */
  setRoutes(table: RouteTable | unknown): Promise<void>;
  /** The Prometheus text of /metrics, for callers without the port. */
  metricsText(): string;
  /** Stops listening, gives open connections up to graceMs to finish, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

interface Entry extends TlsTarget {
  route: Route;
}

/** tcp and udp routes may use the same port number; each protocol has its own. */
const portKey = (route: Route) => `${route.kind}/${route.listenPort}`;

function loadContext(route: Route, log: Logger): SecureContext | undefined {
  try {
    return createSecureContext({ cert: readFileSync(route.cert!), key: readFileSync(route.key!) });
  } catch (err) {
    // The message names the file and the OpenSSL reason, never key material.
    log.error({ route: route.host, cert: route.cert, err: (err as Error).message }, 'cannot load the app certificate');
    return undefined;
  }
}

export async function startRouter(options: RouterOptions = {}): Promise<Router> {
  const o = { ...ROUTER_DEFAULTS, ...options };
  const log = options.logger ?? createLogger('router');
  const metrics = new RouterMetrics();
  const f: Forwarder = {
    options: { connectTimeoutMs: o.connectTimeoutMs, idleTimeoutMs: o.idleTimeoutMs },
    metrics,
    log,
  };
  const ejection = { ...DEFAULT_EJECTION, ...options.ejection };
  const health = new HealthChecker({ ...DEFAULT_HEALTH, ...options.health }, log);
  let table: RouteTable = { version: 1, domain: 'invalid', routes: [] };
  let entries = new Map<string, Entry>();
  /** Entries of routes gone from the table whose connections are still draining. */
  const retired = new Set<Entry>();
  const portListeners = new Map<string, PortListener>();
  /** Listeners of routes gone from the table, until their last connection or session ends. */
  const retiredListeners = new Set<PortListener>();
  const allListeners = () => [...portListeners.values(), ...retiredListeners];
  const drainTimers = new Set<NodeJS.Timeout>();
  const sources: Source[] = [];

  const lookup = (name: string): Entry | undefined => entries.get(name);
  const tls = new TlsListener(
    f,
    { helloTimeoutMs: o.helloTimeoutMs, maxPendingHellos: o.maxPendingHellos, maxConnections: o.maxConnections },
    (sni) => {
      const e = lookup(sni);
      return e && routedBySni(e.route) ? e : undefined;
    },
  );

  const drain = (route: string, gone: Instance[]) => {
    for (const i of gone) {
      if (i.active === 0) continue;
      log.info({ route, instance: i.id, open: i.active, drainMs: o.drainTimeoutMs }, 'instance left the table; draining');
      const timer = setTimeout(() => {
        drainTimers.delete(timer);
        if (!i.draining || i.active === 0) return;
        log.warn({ route, instance: i.id, open: i.active }, 'drain timeout; closing what is left');
        metrics.errors.inc({ route, reason: 'drain_timeout' }, i.active);
        for (const c of [...i.connections]) c.destroy();
      }, o.drainTimeoutMs);
      timer.unref();
      drainTimers.add(timer);
    }
  };

  const reconcilePorts = async (): Promise<ListenError[]> => {
    const wanted = new Map<string, Entry>();
    for (const e of entries.values()) if (!routedBySni(e.route)) wanted.set(portKey(e.route), e);
    for (const [key, l] of portListeners) {
      const e = wanted.get(key);
      if (e) {
        l.route = e.name;
        continue;
      }
      l.retire();
      portListeners.delete(key);
      retiredListeners.add(l);
    }
    const failures: ListenError[] = [];
    for (const [key, e] of wanted) {
      if (portListeners.has(key)) continue;
      const port = e.route.listenPort!;
      const l =
        e.kind === 'udp'
          ? new UdpPortListener(e.name, f, lookup, { idleTimeoutMs: o.udpIdleTimeoutMs, maxSessions: o.maxUdpSessions })
          : new TcpPortListener(e.name, f, lookup);
      try {
        await l.listen(port, o.host);
        portListeners.set(key, l);
      } catch (err) {
        failures.push(new ListenError(`route ${e.name}`, o.host, port, 'pick another listenPort', err as Error));
        metrics.errors.inc({ route: e.name, reason: 'listen' });
        log.error({ route: e.name, port, err: (err as Error).message }, 'cannot open the route port');
        await l.close();
      }
    }
    return failures;
  };

  /** Applies a checked table; returns the ports that could not be opened (the rest is in force). */
  const apply = async (next: RouteTable, source: string): Promise<ListenError[]> => {
    const fresh = new Map<string, Entry>();
    const ports = new Set<string>();
    for (const route of next.routes) {
      if (!routedBySni(route)) {
        // The same app published in several zones claims its port once per zone: the first claim serves them all.
        if (ports.has(portKey(route))) continue;
        ports.add(portKey(route));
      }
      const name = routeName(route);
      const old = entries.get(name);
      let entry: Entry;
      if (old && old.route.kind === route.kind) {
        drain(name, old.pool.update(route));
        entry = { ...old, route };
      } else {
        if (old) {
          drain(name, old.pool.retire());
          retired.add(old);
        }
        entry = { name, kind: route.kind, route, pool: new Pool(route, ejection) };
      }
      entry.secureContext = route.kind === 'tls-terminate' ? loadContext(route, log) : undefined;
      fresh.set(name, entry);
      health.watch(route, entry.pool);
    }
    for (const [name, old] of entries) {
      if (fresh.has(name)) continue;
      health.unwatch(name);
      drain(name, old.pool.retire());
      retired.add(old);
    }
    for (const r of retired) if (r.pool.draining.length === 0) retired.delete(r);
    for (const l of retiredListeners) if (l.open === 0) retiredListeners.delete(l);
    entries = fresh;
    table = next;
    const failures = await reconcilePorts();
    metrics.tableUpdates.inc({ result: 'applied' });
    const live = new Set([...entries.keys(), ...[...retired].map((r) => r.name), UNKNOWN_ROUTE]);
    metrics.registry.prune((route) => route === '' || live.has(route));
    log.info({ source, routes: next.routes.length, domain: next.domain }, 'route table applied');
    return failures;
  };

  const rejected = (err: Error, source: string) => {
    metrics.tableUpdates.inc({ result: 'rejected' });
    log.error({ source, err: err.message }, 'route table rejected; keeping the last good one');
  };

  const perRoute = (count: (e: Entry) => number): Iterable<[Labels, number]> =>
    [...entries.values(), ...retired].map((e) => [{ route: e.name }, count(e)] as [Labels, number]);
  const open = (e: Entry) =>
    [...e.pool.instances, ...e.pool.draining].reduce((n, i) => n + i.active, 0);
  metrics.registry.gauge('cairn_router_connections_active', 'Open connections (UDP: sessions) per route.', () =>
    perRoute(open),
  );
  metrics.registry.gauge(
    'cairn_router_instance_up',
    'Whether an instance takes new connections (healthy, not ejected, not draining).',
    () =>
      [...entries.values()].flatMap((e) =>
        e.pool.instances.map((i) => [{ route: e.name, instance: i.id }, e.pool.eligible(i) ? 1 : 0] as [Labels, number]),
      ),
  );
  metrics.registry.gauge('cairn_router_routes', 'Routes in the table in force.', () => [[{}, entries.size]]);
  metrics.registry.gauge('cairn_router_client_connections', 'Client connections open on the TLS and TCP ports.', () => [
    [{}, tls.open + allListeners().filter((l) => l.kind === 'tcp').reduce((n, l) => n + l.open, 0)],
  ]);
  metrics.registry.gauge('cairn_router_pending_hellos', 'Connections still sending their ClientHello.', () => [
    [{}, tls.pending],
  ]);

  /** Each stops a server accepting and resolves once its connections are gone (cut them to hurry it). */
  const closers: (() => Promise<void>)[] = [];
  try {
    const tlsPort = await tls.listen(o.tlsPort ?? 0, o.host).catch((err: Error) => {
      throw new ListenError('the TLS port', o.host, o.tlsPort ?? 0, 'pick another with --listen-tls', err);
    });
    closers.push(() => tls.stop());
    let metricsServer: Server | undefined;
    if (o.metricsPort !== false) {
      metricsServer = await serveMetrics(metrics.registry, o.host, o.metricsPort ?? 0).catch((err: Error) => {
        throw new ListenError('metrics', o.host, o.metricsPort || 0, 'pick another with --metrics', err);
      });
      const server = metricsServer;
      closers.push(() => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        return closed;
      });
    }
    const ports = {
      tls: tlsPort,
      metrics: metricsServer ? (metricsServer.address() as { port: number }).port : undefined,
    };
    const sink = {
      apply: async (t: RouteTable, source: string) => {
        await apply(t, source);
      },
      rejected,
    };
    if (options.routes !== undefined) {
      const failures = await apply(parseRouteTable(options.routes, 'options.routes'), 'options.routes');
      if (failures.length) throw failures[0];
    }
    if (options.routesFile) {
      const failures = await apply(await readRouteTableFile(options.routesFile), options.routesFile);
      if (failures.length) throw failures[0];
      sources.push(watchRoutesFile(options.routesFile, sink));
    }
    if (options.controlUrl) sources.push(pollControl(options.controlUrl, sink, log, o.controlPollMs));
    log.info({ host: o.host, tls: ports.tls, metrics: ports.metrics }, 'router listening');

    let closing: Promise<void> | undefined;
    const shutdown = async (graceMs: number) => {
      for (const s of sources) s.stop();
      health.close();
      for (const t of drainTimers) clearTimeout(t);
      const stopped = closers.map((c) => c());
      for (const l of portListeners.values()) l.retire();
      const deadline = Date.now() + graceMs;
      // Bounded wait for open connections to end by themselves.
      while (Date.now() < deadline && tls.open + allListeners().reduce((n, l) => n + l.open, 0) > 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
      tls.destroyAll();
      await Promise.all([...stopped, ...allListeners().map((l) => l.close())]);
      portListeners.clear();
      retiredListeners.clear();
      log.info('router stopped');
    };

    return {
      host: o.host,
      get ports(): RouterPorts {
        const routes: Record<string, number> = {};
        for (const l of portListeners.values()) if (l.route) routes[l.route] = l.port;
        return { ...ports, routes };
      },
      get table() {
        return table;
      },
      async setRoutes(next) {
        let checked: RouteTable;
        try {
          checked = parseRouteTable(next, 'setRoutes');
        } catch (err) {
          rejected(err as Error, 'setRoutes');
          throw err;
        }
        const failures = await apply(checked, 'setRoutes');
        if (failures.length) throw failures[0];
      },
      metricsText: () => metrics.registry.render(),
      close(graceMs = 0) {
        closing ??= shutdown(graceMs);
        return closing;
      },
    };
  } catch (err) {
    for (const s of sources) s.stop();
    health.close();
    const stopped = closers.map((c) => c());
    tls.destroyAll();
    await Promise.all(stopped);
    await Promise.all([...portListeners.values()].map((l) => l.close()));
    throw err;
  }
}
