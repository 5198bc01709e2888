/**
 * An instance's health check, run by its node agent with the router's probe:
 * a TCP connect, or an HTTP GET answered 2xx/3xx; over TLS (unverified) when
 * the port's TLS passes through to the app, which then serves it itself.
 */
import { probe } from '../router/index.js';
import type { AppSpec, HealthSpec } from '../scheduler/spec.js';

export const CHECK_TIMEOUT_MS = 2000;
/** The SNI of a check over TLS: the app's certificate is for its public name anyway, and is not verified. */
const CHECK_SERVERNAME = 'localhost';

export function checkHealth(spec: AppSpec, health: HealthSpec, host: string, ports: Record<string, number>): Promise<boolean> {
  const port = ports[health.port];
  if (port === undefined) return Promise.resolve(false);
  const tls = spec.ports.find((p) => p.name === health.port)?.tls === 'passthrough';
  const check = health.type === 'http' ? { type: health.type, path: health.path } : { type: health.type };
  return probe(host, port, check, { timeoutMs: CHECK_TIMEOUT_MS, tlsServername: tls ? CHECK_SERVERNAME : undefined });
}
