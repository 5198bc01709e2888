/**
 * Prometheus metrics in the text exposition format (version 0.0.4), served
 * at GET /metrics on a loopback port. Labels carry route host names from the
 * route table only, never names a client sent, so the number of series is
 * bounded by the table.
 */
import { type Server, createServer } from 'node:http';

export type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  collect(): Iterable<[Labels, number]>;
}

export class Counter {
  readonly #values = new Map<string, [Labels, number]>();

  inc(labels: Labels, by = 1): void {
    const key = labelText(labels);
    const entry = this.#values.get(key);
    if (entry) entry[1] += by;
    else this.#values.set(key, [labels, by]);
  }

  /** One series to add to often (per chunk of bytes) without rebuilding its key each time. */
  series(labels: Labels): { add(by: number): void } {
    const key = labelText(labels);
    return {
      add: (by) => {
        const entry = this.#values.get(key);
        if (entry) entry[1] += by;
        else this.#values.set(key, [labels, by]);
      },
    };
  }

  get(labels: Labels): number {
    return this.#values.get(labelText(labels))?.[1] ?? 0;
  }

  /** Forgets the series whose `route` label is not kept (routes long gone from the table). */
  prune(keep: (route: string) => boolean): void {
    for (const [key, [labels]] of this.#values) if (!keep(labels.route ?? '')) this.#values.delete(key);
  }

  values(): Iterable<[Labels, number]> {
    return this.#values.values();
  }
}

export class Registry {
  readonly #families: Family[] = [];
  readonly #counters: Counter[] = [];

  counter(name: string, help: string): Counter {
    const c = new Counter();
    this.#counters.push(c);
    this.#families.push({ name, help, type: 'counter', collect: () => c.values() });
    return c;
  }

  gauge(name: string, help: string, collect: () => Iterable<[Labels, number]>): void {
    this.#families.push({ name, help, type: 'gauge', collect });
  }

  prune(keep: (route: string) => boolean): void {
    for (const c of this.#counters) c.prune(keep);
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.#families) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const [labels, value] of f.collect()) lines.push(`${f.name}${labelText(labels)} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The router's own metric families. */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly connections = this.registry.counter(
    'cairn_router_connections_total',
    'Connections (UDP: sessions) forwarded to an instance, per route.',
  );
  readonly bytes = this.registry.counter(
    'cairn_router_bytes_total',
    'Bytes forwarded per route; direction is to_instance or to_client (TLS bytes for passthrough, plaintext for termination).',
  );
  readonly errors = this.registry.counter(
    'cairn_router_errors_total',
    'Connections refused or cut, per route ("unknown" when no route matched) and reason.',
  );
  readonly tableUpdates = this.registry.counter(
    'cairn_router_table_updates_total',
    'Route tables received, by result (applied or rejected).',
  );
}

/** Serves /metrics (and /healthz for the router itself) on host:port. */
export function serveMetrics(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(registry.render());
    } else if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found; try /metrics\n');
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
