/**
 * The route table: what the control plane serves at GET /v1/routes and what
 * `cairn router start --routes FILE` reads. The shape is the contract between
 * the control plane and the router (docs/ROUTER.md, "The route table").
 */

export type RouteKind = 'tls-passthrough' | 'tls-terminate' | 'tcp' | 'udp';
export type Balance = 'round-robin' | 'least-connections';

export type HealthCheck = { type: 'tcp' } | { type: 'http'; path: string };

export interface RouteInstance {
  id: string;
  host: string;
  port: number;
  /** What the control plane knows (container running, readiness); the router's own checks come on top. */
  healthy: boolean;
}

export interface Route {
  app: string;
  id: string;
  zone: string;
  /** `${app}-${id}.${zone}.${domain}`, lowercase. */
  host: string;
  kind: RouteKind;
  /** The router port this route owns: required for "udp", optional for "tcp" (without it, TCP is routed by SNI). */
  listenPort?: number;
  balance: Balance;
  /** PEM files of the app's certificate and key, for "tls-terminate". */
  cert?: string;
  key?: string;
  health?: HealthCheck;
  instances: RouteInstance[];
}

export interface RouteTable {
  version: 1;
  domain: string;
  routes: Route[];
}

/** True when connections for this route arrive on the shared TLS port and are told apart by SNI. */
export const routedBySni = (route: Route): boolean =>
  route.kind === 'tls-passthrough' || route.kind === 'tls-terminate' || (route.kind === 'tcp' && route.listenPort === undefined);

/**
 * How logs and metrics name a route: its host when routed by SNI, else
 * host:port/protocol, since one app may publish a TLS port and a UDP port
 * under the same host.
 */
export const routeName = (route: Route): string =>
  routedBySni(route) ? route.host : `${route.host}:${route.listenPort}/${route.kind}`;
