/**
 * Joins a client connection to an instance: picks one (trying up to
 * MAX_ATTEMPTS different instances while nothing has been sent yet, so one
 * dead instance costs a retry, not a failed connection), writes the bytes
 * already read (the ClientHello in passthrough), then copies both ways with
 * half-close passed on, counting bytes for the route.
 */
import { type Socket, connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import type { Closable, Instance, Pool } from './balancer.js';
import type { RouterMetrics } from './metrics.js';

export const MAX_ATTEMPTS = 3;

export interface ForwardOptions {
  connectTimeoutMs: number;
  /** A proxied connection with no bytes either way for this long is closed. */
  idleTimeoutMs: number;
}

/** What a listener knows about the route a connection belongs to. */
export interface ForwardTarget {
  /** The route's name in logs and metrics (see routeName). */
  name: string;
  pool: Pool;
}

export interface Forwarder {
  options: ForwardOptions;
  metrics: RouterMetrics;
  log: Logger;
}

function connectOnce(i: Instance, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: i.host, port: i.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Connects to an eligible instance of the pool, ejecting the ones that fail; undefined when none answers. */
export async function connectUpstream(
  f: Forwarder,
  target: ForwardTarget,
): Promise<{ socket: Socket; instance: Instance } | undefined> {
  const tried = new Set<Instance>();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const instance = target.pool.pick(tried);
    if (!instance) return undefined;
    tried.add(instance);
    try {
      const socket = await connectOnce(instance, f.options.connectTimeoutMs);
      target.pool.succeeded(instance);
      return { socket, instance };
    } catch (err) {
      target.pool.failed(instance);
      f.metrics.errors.inc({ route: target.name, reason: 'upstream_connect' });
      f.log.warn(
        { route: target.name, instance: instance.id, err: (err as Error).message, ejected: !target.pool.eligible(instance) },
        'cannot connect to instance',
      );
    }
  }
  return undefined;
}

/**
 * Forwards `client` to an instance of the target. `head` is sent first.
 * `refuse` is called (and the client left to it) when no instance answers.
 */
export async function forward(
  f: Forwarder,
  target: ForwardTarget,
  client: Duplex & { setTimeout(ms: number): unknown },
  head: Buffer | undefined,
  refuse: () => void,
): Promise<void> {
  const upstream = await connectUpstream(f, target);
  if (client.destroyed) {
    upstream?.socket.destroy();
    return;
  }
  if (!upstream) {
    f.metrics.errors.inc({ route: target.name, reason: 'no_instance' });
    refuse();
    return;
  }
  const { socket, instance } = upstream;
  const route = target.name;
  const conn: Closable = {
    destroy: () => {
      client.destroy();
      socket.destroy();
    },
  };
  target.pool.open(instance, conn);
  f.metrics.connections.inc({ route });
  let closed = 0;
  const onClose = () => {
    // Both sides gone: the connection no longer counts against the instance.
    if (++closed === 2) target.pool.close(instance, conn);
    else conn.destroy();
  };
  client.once('close', onClose);
  socket.once('close', onClose);
  const onError = (side: string) => (err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') f.log.debug({ route, side, err: err.message }, 'connection error');
    conn.destroy();
  };
  client.on('error', onError('client'));
  socket.on('error', onError('instance'));
  if (f.options.idleTimeoutMs > 0) {
    client.setTimeout(f.options.idleTimeoutMs);
    client.once('timeout', () => {
      f.metrics.errors.inc({ route, reason: 'idle_timeout' });
      conn.destroy();
    });
  }
  const toInstance = f.metrics.bytes.series({ route, direction: 'to_instance' });
  const toClient = f.metrics.bytes.series({ route, direction: 'to_client' });
  if (head && head.length > 0) {
    socket.write(head);
    toInstance.add(head.length);
  }
  client.pipe(socket);
  socket.pipe(client);
  client.on('data', (chunk: Buffer) => toInstance.add(chunk.length));
  socket.on('data', (chunk: Buffer) => toClient.add(chunk.length));
}
