/**
 * Routes that own a router port: UDP routes (with a session table) and TCP
 * routes given a listenPort. Each listener asks for its route on every new
 * connection or session, so a table change applies to the next one and
 * leaves the established ones alone.
 */
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type Server, type Socket, createServer } from 'node:net';
import type { Closable, Instance } from './balancer.js';
import { type ForwardTarget, type Forwarder, forward } from './forward.js';

export interface PortListener {
  readonly kind: 'tcp' | 'udp';
  readonly port: number;
  /** The name of the route this port belongs to now; undefined once the route is gone. */
  route: string | undefined;
  listen(port: number, host: string): Promise<number>;
  /** No new connections or sessions; closes the port once the open ones are done (or at once). */
  retire(): void;
  close(): Promise<void>;
  readonly open: number;
}

type Lookup = (route: string) => ForwardTarget | undefined;

function listenOn(
  bind: (port: number, host: string, ready: () => void) => void,
  emitter: NodeJS.EventEmitter,
  port: number,
  host: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once('error', reject);
    bind(port, host, () => {
      emitter.off('error', reject);
      resolve();
    });
  });
}

export class TcpPortListener implements PortListener {
  readonly kind = 'tcp';
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(
    public route: string | undefined,
    readonly f: Forwarder,
    readonly lookup: Lookup,
  ) {
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
  }

  get open(): number {
    return this.#sockets.size;
  }

  async listen(port: number, host: string): Promise<number> {
    await listenOn((p, h, ready) => this.#server.listen(p, h, ready), this.#server, port, host);
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const target = this.route === undefined ? undefined : this.lookup(this.route);
    if (!target) {
      this.f.metrics.errors.inc({ route: this.route ?? 'unknown', reason: 'no_route' });
      socket.destroy();
      return;
    }
    socket.pause();
    void forward(this.f, target, socket, undefined, () => socket.destroy());
  }

  retire(): void {
    this.route = undefined;
    this.#server.close();
  }

  async close(): Promise<void> {
    this.route = undefined;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}

export interface UdpOptions {
  /** A session with no datagram either way for this long is forgotten. */
  idleTimeoutMs: number;
  maxSessions: number;
}

/** Datagrams a session holds while its upstream socket connects. */
const MAX_QUEUED = 64;

interface Session extends Closable {
  send(msg: Buffer): void;
  instance: Instance;
  target: ForwardTarget;
  upstream: UdpSocket;
  lastActive: number;
}

export class UdpPortListener implements PortListener {
  readonly kind = 'udp';
  port = 0;
  #socket: UdpSocket | undefined;
  readonly #sessions = new Map<string, Session>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    public route: string | undefined,
    readonly f: Forwarder,
    readonly lookup: Lookup,
    readonly options: UdpOptions,
  ) {}

  get open(): number {
    return this.#sessions.size;
  }

  async listen(port: number, host: string): Promise<number> {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    this.#socket = socket;
    await listenOn((p, h, ready) => socket.bind(p, h, ready), socket, port, host);
    socket.on('message', (msg, rinfo) => this.#message(msg, rinfo.address, rinfo.port));
    socket.on('error', (err) => this.f.log.warn({ port: this.port, err: err.message }, 'udp listener error'));
    this.port = socket.address().port;
    const every = Math.max(100, Math.min(1_000, this.options.idleTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#sweeper.unref();
    return this.port;
  }

  #sweep(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const s of [...this.#sessions.values()]) if (s.lastActive <= cutoff) s.destroy();
    if (this.route === undefined && this.#sessions.size === 0) void this.close();
  }

  #message(msg: Buffer, address: string, port: number): void {
    const key = `${address}|${port}`;
    const session = this.#sessions.get(key) ?? this.#open(key, address, port);
    if (!session) return;
    session.lastActive = Date.now();
    this.f.metrics.bytes.inc({ route: session.target.name, direction: 'to_instance' }, msg.length);
    session.send(msg);
  }

  #open(key: string, address: string, port: number): Session | undefined {
    const target = this.route === undefined ? undefined : this.lookup(this.route);
    const route = target?.name ?? this.route ?? 'unknown';
    if (!target) {
      this.f.metrics.errors.inc({ route, reason: 'no_route' });
      return undefined;
    }
    if (this.#sessions.size >= this.options.maxSessions) {
      this.f.metrics.errors.inc({ route, reason: 'udp_session_limit' });
      return undefined;
    }
    const instance = target.pool.pick();
    if (!instance) {
      this.f.metrics.errors.inc({ route, reason: 'no_instance' });
      return undefined;
    }
    const upstream = createSocket(isIPv6(instance.host) ? 'udp6' : 'udp4');
    // Datagrams that arrive before connect() completes wait here (bounded), then go out in order.
    let queue: Buffer[] | undefined = [];
    const session: Session = {
      instance,
      target,
      upstream,
      lastActive: Date.now(),
      send: (msg) => {
        if (!queue) upstream.send(msg);
        else if (queue.length < MAX_QUEUED) queue.push(msg);
      },
      destroy: () => {
        if (this.#sessions.get(key) !== session) return;
        this.#sessions.delete(key);
        target.pool.close(instance, session);
        upstream.close();
      },
    };
    upstream.on('message', (reply) => {
      session.lastActive = Date.now();
      target.pool.succeeded(instance);
      this.f.metrics.bytes.inc({ route, direction: 'to_client' }, reply.length);
      this.#socket?.send(reply, port, address);
    });
    upstream.on('error', (err) => {
      // A connected UDP socket hears the instance's ICMP "port unreachable" as ECONNREFUSED.
      target.pool.failed(instance);
      this.f.metrics.errors.inc({ route, reason: 'upstream_unreachable' });
      this.f.log.warn({ route, instance: instance.id, err: err.message }, 'udp instance unreachable');
      session.destroy();
    });
    upstream.connect(instance.port, instance.host, () => {
      const waiting = queue ?? [];
      queue = undefined;
      for (const m of waiting) upstream.send(m);
    });
    this.#sessions.set(key, session);
    target.pool.open(instance, session);
    this.f.metrics.connections.inc({ route });
    return session;
  }

  retire(): void {
    this.route = undefined;
    if (this.#sessions.size === 0) void this.close();
  }

  async close(): Promise<void> {
    this.route = undefined;
    clearInterval(this.#sweeper);
    for (const s of [...this.#sessions.values()]) s.destroy();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
