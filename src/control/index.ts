/**
 * The control plane: apps, nodes and the scheduler behind an HTTP API on
 * 127.0.0.1, its state in a `level` database under `dir`.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CairnError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { controlServer } from './http.js';
import { ControlPlane } from './plane.js';
import type { CertFiles } from './routes.js';
import { ControlStore } from './store.js';

export { ControlClient, DEFAULT_CONTROL_URL, controlUrl } from './client.js';
export { API_VERSION } from './api.js';
export type * from './api.js';
export { ControlError, ControlProtocolError, ControlUnreachableError, NoSuchAppError } from './errors.js';
export type { CertFiles, Route, RouteTable } from './routes.js';

export const DEFAULT_CONTROL_PORT = 7480;
export const DEFAULT_DOMAIN = 'cairn.test';
/** "A few seconds" of missed heartbeats (agents beat every second) before a node is lost. */
export const DEFAULT_NODE_TIMEOUT_MS = 5000;
/** How often the scheduler looks for work: lost nodes, instances to place, rollouts to advance. */
const TICK_MS = 250;

export interface ControlPlaneOptions {
  /** Where the state lives (created if missing): db/, a level database. */
  dir: string;
  /** 0 picks a free port; default 7480. */
  port?: number;
  domain?: string;
  nodeTimeoutMs?: number;
  /** Issues a certificate (PEM files) for a tls-terminate host; without it such ports need their own cert and key. */
  issueCertificate?: (host: string) => Promise<CertFiles>;
}

export interface RunningControlPlane {
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = createLogger('control');
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const store = await ControlStore.open(join(options.dir, 'db'));
  const plane = await ControlPlane.load(store, {
    domain: options.domain ?? DEFAULT_DOMAIN,
    nodeTimeoutMs: options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS,
    issueCertificate: options.issueCertificate,
    log,
  });
  const server = controlServer(plane, log);
  const port = options.port ?? DEFAULT_CONTROL_PORT;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await plane.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CairnError('control.port-busy', `127.0.0.1:${port} is in use (another control plane?); choose another --port`);
    }
    throw err;
  }
  let ticking: Promise<void> | undefined;
  const timer = setInterval(() => {
    ticking ??= plane
      .tick()
      .catch((err: unknown) => log.error({ err: (err as Error).message }, 'scheduling pass failed'))
      .finally(() => (ticking = undefined));
  }, TICK_MS);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  log.info({ url }, 'control plane listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ticking;
        await plane.close();
      })()),
  };
}
