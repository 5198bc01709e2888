/**
 * The control plane's HTTP API on 127.0.0.1: JSON in, JSON out, errors as
 * { error: { code, message } } with a 4xx/5xx status. No authentication: it
 * binds loopback only (docs/SCHEDULER.md).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { CairnError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { HeartbeatRequest, RegisterRequest } from './api.js';
import { ControlError } from './errors.js';
import type { ControlPlane } from './plane.js';

/** An app spec is at most 1 MiB; heartbeats carry bounded log batches. */
const MAX_BODY_BYTES = 4 << 20;

class BadRequest extends ControlError {
  constructor(message: string, status = 400) {
    super('control.bad-request', message, status);
  }
}

// Past this the connection is cut instead of read to its end.
const MAX_DRAIN_BYTES = 16 * MAX_BODY_BYTES;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAIN_BYTES) req.destroy();
    // Read an oversized body to its end (unkept), so the client is still listening for the 413.
    else if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new BadRequest(`request body larger than ${MAX_BODY_BYTES} bytes`, 413);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('request body is not JSON');
  }
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

type Handler = (match: RegExpExecArray, req: IncomingMessage, url: URL) => Promise<unknown> | unknown;

export function controlServer(plane: ControlPlane, log: Logger): Server {
  const NODE_ID = '([0-9a-f]{32})';
  const APP = '([a-z][a-z0-9-]{0,29})';
  const routes: [string, RegExp, Handler][] = [
    ['GET', /^\/v1\/health$/, () => ({ ok: true })],
    ['GET', /^\/v1\/routes$/, () => plane.routes()],
    ['GET', /^\/v1\/apps$/, () => plane.listApps()],
    ['POST', /^\/v1\/apps$/, async (_m, req) => plane.deploy(await readJson(req))],
    ['GET', new RegExp(`^/v1/apps/${APP}$`), (m) => plane.getApp(m[1])],
    ['DELETE', new RegExp(`^/v1/apps/${APP}$`), async (m) => (await plane.remove(m[1]), { removed: m[1] })],
    [
      'GET',
      new RegExp(`^/v1/apps/${APP}/logs$`),
      (m, _req, url) => plane.logs(m[1], Math.max(0, Number(url.searchParams.get('after') ?? 0) || 0)),
    ],
    ['GET', /^\/v1\/nodes$/, () => plane.listNodes()],
    ['POST', /^\/v1\/nodes$/, async (_m, req) => plane.register(checkRegister(await readJson(req)))],
    ['DELETE', new RegExp(`^/v1/nodes/${NODE_ID}$`), async (m) => (await plane.leave(m[1]), { left: m[1] })],
    [
      'POST',
      new RegExp(`^/v1/nodes/${NODE_ID}/heartbeat$`),
      async (m, req) => plane.heartbeat(m[1], checkHeartbeat(await readJson(req))),
    ],
  ];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    void (async () => {
      try {
        const known = routes.filter(([, pattern]) => pattern.test(url.pathname));
        if (known.length === 0) throw new BadRequest(`no such endpoint: ${url.pathname}`, 404);
        const route = known.find(([method]) => method === req.method);
        if (!route) throw new BadRequest(`${req.method} is not allowed on ${url.pathname}`, 405);
        send(res, 200, await route[2](route[1].exec(url.pathname)!, req, url));
      } catch (err) {
        if (err instanceof ControlError) send(res, err.status, { error: { code: err.code, message: err.message } });
        else if (err instanceof CairnError) send(res, 400, { error: { code: err.code, message: err.message } });
        else {
          log.error({ err: (err as Error).message, path: url.pathname }, 'request failed');
          send(res, 500, { error: { code: 'control.internal', message: (err as Error).message } });
        }
      }
    })();
  });
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function checkRegister(body: unknown): RegisterRequest {
  const b = object(body, 'the registration');
  const capacity = object(b.capacity, 'capacity');
  const cpu = Number(capacity.cpu);
  const memoryBytes = Number(capacity.memoryBytes);
  if (typeof b.id !== 'string' || !/^[0-9a-f]{32}$/.test(b.id)) throw new BadRequest('id must be 32 hex characters');
  if (typeof b.name !== 'string' || !NAME.test(b.name)) throw new BadRequest('name must be 1-63 of a-z 0-9 . _ -');
  if (typeof b.zone !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(b.zone)) throw new BadRequest('zone must be a DNS label');
  if (typeof b.address !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(b.address)) throw new BadRequest('address must be an IP address or host name');
  if (!(cpu > 0) || !(memoryBytes > 0)) throw new BadRequest('capacity needs cpu and memoryBytes above 0');
  const labels = object(b.labels ?? {}, 'labels');
  if (Object.values(labels).some((v) => typeof v !== 'string')) throw new BadRequest('label values must be strings');
  return {
    api: Number(b.api),
    id: b.id,
    name: b.name,
    zone: b.zone,
    labels: labels as Record<string, string>,
    capacity: { cpu, memoryBytes },
    address: b.address,
  };
}

function checkHeartbeat(body: unknown): HeartbeatRequest {
  const b = object(body, 'the heartbeat');
  if (!Array.isArray(b.instances) || (b.logs !== undefined && !Array.isArray(b.logs))) {
    throw new BadRequest('a heartbeat needs an instances list (and optionally a logs list)');
  }
  for (const i of b.instances) {
    const r = object(i, 'an instance report');
    if (typeof r.id !== 'string' || typeof object(r.ports, 'ports') !== 'object') throw new BadRequest('an instance report needs id and ports');
  }
  return b as unknown as HeartbeatRequest;
}
