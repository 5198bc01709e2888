/**
 * Where route tables come from besides setRoutes(): a file re-read when it
 * changes, or the control plane's GET /v1/routes polled every second. A bad
 * table is reported and the last good one stays in force. Both stop with
 * the router; each poll has a timeout, and only one runs at a time.
 */
import { type StatsListener, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../log/index.js';
import { readRouteTableFile, parseRouteTableJson } from './table.js';
import type { RouteTable } from './types.js';

export interface TableSink {
  apply(table: RouteTable, source: string): Promise<void>;
  rejected(err: Error, source: string): void;
}

export interface Source {
  stop(): void;
}

/** Watches `path` (stat polling, which also sees a file replaced by rename) and applies each change. */
export function watchRoutesFile(path: string, sink: TableSink, intervalMs = 500): Source {
  let running = Promise.resolve();
  const listener: StatsListener = (now, before) => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    running = running.then(async () => {
      try {
        await sink.apply(await readRouteTableFile(path), path);
      } catch (err) {
        sink.rejected(err as Error, path);
      }
    });
  };
  watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return { stop: () => unwatchFile(path, listener) };
}

/** Polls `${url}/v1/routes`; a table is applied when its text differs from the last one applied. */
export function pollControl(url: string, sink: TableSink, log: Logger, intervalMs = 1_000): Source {
  const endpoint = new URL('v1/routes', url.endsWith('/') ? url : `${url}/`).toString();
  let last: string | undefined;
  let lastRejected: string | undefined;
  let failing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  const poll = async () => {
    let text: string;
    try {
      const res = await fetch(endpoint, {
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(Math.max(intervalMs * 2, 2_000))]),
        headers: { accept: 'application/json' },
      });
      text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${endpoint}`);
    } catch (err) {
      if (!stopped && !failing) {
        log.warn({ url: endpoint, err: (err as Error).message }, 'cannot fetch routes from the control plane; keeping the last table');
      }
      failing = true;
      return;
    }
    if (failing) log.info({ url: endpoint }, 'control plane reachable again');
    failing = false;
    // The same text again changes nothing, and a bad table is reported once, not every second.
    if (text === last || text === lastRejected) return;
    try {
      await sink.apply(parseRouteTableJson(text, endpoint), endpoint);
      last = text;
      lastRejected = undefined;
    } catch (err) {
      lastRejected = text;
      sink.rejected(err as Error, endpoint);
    }
  };
  const loop = async () => {
    await poll();
    if (!stopped) timer = setTimeout(() => void loop(), intervalMs);
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    },
  };
}
