/**
 * An instance's health check, run by its node agent: a TCP connect, or an
 * HTTP GET answered 2xx/3xx; over TLS (unverified) when the port's TLS passes
 * through to the app, which then serves it itself.
 */
import { type IncomingMessage, request } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { connect } from 'node:net';
import type { AppSpec, HealthSpec } from '../scheduler/spec.js';

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

function httpCheck(host: string, port: number, path: string, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { host, port, path, method: 'GET', timeout: CHECK_TIMEOUT_MS, agent: false };
    const answered = (res: IncomingMessage) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    };
    // The app's own certificate is for its public name, not for this address: not verified.
    const req = tls ? tlsRequest({ ...options, rejectUnauthorized: false }, answered) : request(options, answered);
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(false));
    req.end();
  });
}

export function checkHealth(spec: AppSpec, health: HealthSpec, host: string, ports: Record<string, number>): Promise<boolean> {
  const port = ports[health.port];
  if (port === undefined) return Promise.resolve(false);
  if (health.type === 'tcp') return tcpCheck(host, port);
  const tls = spec.ports.find((p) => p.name === health.port)?.tls === 'passthrough';
  return httpCheck(host, port, health.path, tls);
}
