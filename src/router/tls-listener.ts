/**
 * The shared TLS port. Each connection's ClientHello is read (bounded in
 * size and time), its SNI names the route, and then either the untouched
 * bytes go on to an instance (passthrough, and TCP routed by SNI) or the
 * router finishes the handshake with the app's certificate and forwards the
 * plaintext (termination). Anything else gets one TLS alert and is closed.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { Alert, ClientHelloReader, alertRecord } from './client-hello.js';
import { type ForwardTarget, type Forwarder, forward } from './forward.js';
import type { RouteKind } from './types.js';

export interface TlsTarget extends ForwardTarget {
  kind: RouteKind;
  /** For termination; undefined when the app's certificate could not be loaded. */
  secureContext?: SecureContext;
}

export interface TlsListenerOptions {
  /** The whole ClientHello (and, for termination, the handshake) must arrive within this. */
  helloTimeoutMs: number;
  /** Connections still sending their ClientHello, at most; more are closed at once. */
  maxPendingHellos: number;
  maxConnections: number;
}

export const UNKNOWN_ROUTE = 'unknown';

export class TlsListener {
  readonly server: Server;
  pending = 0;
  open = 0;
  readonly #sockets = new Set<Socket>();

  constructor(
    readonly f: Forwarder,
    readonly options: TlsListenerOptions,
    readonly lookup: (sni: string) => TlsTarget | undefined,
  ) {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
    this.server.maxConnections = options.maxConnections;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting; open connections are left to the caller (drain) or destroyAll. */
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  #refuse(socket: Socket, route: string, reason: string, alert: number): void {
    this.f.metrics.errors.inc({ route, reason });
    this.f.log.debug({ route, reason, peer: socket.remoteAddress }, 'connection refused');
    if (socket.destroyed) return;
    socket.removeAllListeners('data');
    // Reads stop; the alert is written and the socket destroyed once it is flushed (or at once if that fails).
    socket.pause();
    socket.end(alertRecord(alert), () => socket.destroy());
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  #accept(socket: Socket): void {
    this.open++;
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.open--;
      this.#sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    if (this.pending >= this.options.maxPendingHellos) {
      this.f.metrics.errors.inc({ route: UNKNOWN_ROUTE, reason: 'too_many_pending' });
      socket.destroy();
      return;
    }
    this.pending++;
    let waiting = true;
    const settle = () => {
      if (!waiting) return false;
      waiting = false;
      this.pending--;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', settle);
      return true;
    };
    const timer = setTimeout(() => {
      if (!settle()) return;
      this.f.metrics.errors.inc({ route: UNKNOWN_ROUTE, reason: 'hello_timeout' });
      socket.destroy();
    }, this.options.helloTimeoutMs);
    const reader = new ClientHelloReader();
    const onData = (chunk: Buffer) => {
      const result = reader.push(chunk);
      if (result.kind === 'more') return;
      settle();
      if (result.kind === 'reject') {
        this.#refuse(socket, UNKNOWN_ROUTE, result.reason.replace(/-/g, '_'), result.alert);
        return;
      }
      socket.pause();
      const target = result.sni === undefined ? undefined : this.lookup(result.sni);
      if (!target) {
        this.#refuse(socket, UNKNOWN_ROUTE, result.sni === undefined ? 'no_sni' : 'unknown_name', Alert.unrecognizedName);
        return;
      }
      if (target.kind === 'tls-terminate') this.#terminate(socket, result.bytes, target);
      else void this.#forward(socket, result.bytes, target);
    };
    socket.on('data', onData);
    socket.once('close', settle);
  }

  async #forward(socket: Socket, head: Buffer, target: TlsTarget): Promise<void> {
    await forward(this.f, target, socket, head, () =>
      this.#refuse(socket, target.name, 'no_instance_answered', Alert.internalError),
    );
  }

  #terminate(socket: Socket, hello: Buffer, target: TlsTarget): void {
    if (!target.secureContext) {
      this.#refuse(socket, target.name, 'no_certificate', Alert.internalError);
      return;
    }
    // The ClientHello goes back in front of the stream; TLSSocket reads what is buffered first.
    socket.unshift(hello);
    const tls = new TLSSocket(socket, { isServer: true, secureContext: target.secureContext });
    const timer = setTimeout(() => {
      this.f.metrics.errors.inc({ route: target.name, reason: 'handshake_timeout' });
      tls.destroy();
    }, this.options.helloTimeoutMs);
    const failed = () => {
      clearTimeout(timer);
      this.f.metrics.errors.inc({ route: target.name, reason: 'tls_handshake' });
      tls.destroy();
    };
    tls.once('error', failed);
    tls.once('secure', () => {
      clearTimeout(timer);
      tls.removeListener('error', failed);
      tls.on('error', () => tls.destroy());
      tls.pause();
      void forward(this.f, target, tls, undefined, () => tls.destroy());
    });
  }
}
