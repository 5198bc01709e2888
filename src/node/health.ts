/** An instance's health check, run by its node agent: a TCP connect, or an HTTP GET answered 2xx/3xx. */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthSpec } from '../scheduler/spec.js';

export const CHECK_TIMEOUT_MS = 2000;

function tcpCheck(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: CHECK_TIMEOUT_MS });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function httpCheck(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: CHECK_TIMEOUT_MS, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(false));
    req.end();
  });
}

export function checkHealth(health: HealthSpec, host: string, ports: Record<string, number>): Promise<boolean> {
  const port = ports[health.port];
  if (port === undefined) return Promise.resolve(false);
  return health.type === 'http' ? httpCheck(host, port, health.path) : tcpCheck(host, port);
}
