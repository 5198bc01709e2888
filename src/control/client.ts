/** The control plane's API from the CLI and node agents: one bounded HTTP request per call. */
import { UsageError } from '../errors/index.js';
import type {
  AppView,
  DeployResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LogsResponse,
  NodeView,
  RegisterRequest,
} from './api.js';
import { ControlError, ControlProtocolError, ControlUnreachableError } from './errors.js';
import type { RouteTable } from './routes.js';

export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:7480';
const REQUEST_TIMEOUT_MS = 10_000;

/** The control plane's URL: the flag, else $CAIRN_CONTROL, else the default local one. */
export function controlUrl(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const text = flag ?? env.CAIRN_CONTROL ?? DEFAULT_CONTROL_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a control plane URL; use e.g. http://127.0.0.1:7480`);
  }
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search !== '') {
    throw new UsageError(`"${text}" is not a control plane URL; use http://HOST:PORT`);
  }
  return url.origin;
}

/**
 * A keep-alive connection the server closed while idle, found closed only on
 * reuse: the request never reached the server.
 */
function closedUnderUs(err: unknown): boolean {
  const code = ((err as Error).cause as { code?: string } | undefined)?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
}

export class ControlClient {
  constructor(readonly url: string) {}

  /** `retry`: the request may be sent twice (it is idempotent), so a reused connection the server just closed is retried once. */
  async #request<T>(method: string, path: string, body?: unknown, retry = method === 'GET'): Promise<T> {
    let res: Response;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await fetch(`${this.url}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        break;
      } catch (err) {
        if (!(retry && attempt === 1 && closedUnderUs(err))) throw new ControlUnreachableError(this.url, err);
      }
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new ControlProtocolError(this.url, `HTTP ${res.status} without a JSON body`);
    }
    if (res.ok) return json as T;
    const error = (json as { error?: { code?: string; message?: string } }).error;
    if (!error?.message) throw new ControlProtocolError(this.url, `HTTP ${res.status}`);
    // A request the control plane found malformed is the caller's input: a usage error.
    if (res.status === 400) throw new UsageError(error.message);
    throw new ControlError(error.code ?? 'control.error', error.message, res.status);
  }

  health(): Promise<{ ok: boolean }> {
    return this.#request('GET', '/v1/health');
  }

  deploy(spec: unknown): Promise<DeployResponse> {
    return this.#request('POST', '/v1/apps', spec, true);
  }

  apps(): Promise<AppView[]> {
    return this.#request('GET', '/v1/apps');
  }

  app(name: string): Promise<AppView> {
    return this.#request('GET', `/v1/apps/${encodeURIComponent(name)}`);
  }

  removeApp(name: string): Promise<unknown> {
    return this.#request('DELETE', `/v1/apps/${encodeURIComponent(name)}`);
  }

  logs(name: string, after = 0): Promise<LogsResponse> {
    return this.#request('GET', `/v1/apps/${encodeURIComponent(name)}/logs?after=${after}`);
  }

  nodes(): Promise<NodeView[]> {
    return this.#request('GET', '/v1/nodes');
  }

  register(req: RegisterRequest): Promise<unknown> {
    return this.#request('POST', '/v1/nodes', req, true);
  }

  heartbeat(nodeId: string, report: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.#request('POST', `/v1/nodes/${nodeId}/heartbeat`, report, true);
  }

  leave(nodeId: string): Promise<unknown> {
    return this.#request('DELETE', `/v1/nodes/${nodeId}`);
  }

  routes(): Promise<RouteTable> {
    return this.#request('GET', '/v1/routes');
  }
}
