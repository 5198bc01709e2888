/**
 * The route table served at GET /v1/routes, in the router's own types (the
 * contract between the two, docs/SCHEDULER.md "Routes"): one route per app
 * port and zone, listing the app's running instances at their node's address
 * and host port. Pure.
 */
import type { Route, RouteKind, RouteTable } from '../router/types.js';
import { type AppRecord, type InstanceRecord, type NodeInfo, isHealthy } from '../scheduler/model.js';
import type { PortSpec } from '../scheduler/spec.js';

export type { Route, RouteTable };

export interface CertFiles {
  cert: string;
  key: string;
}

export const appHost = (app: AppRecord, zone: string, domain: string) => `${app.name}-${app.id}.${zone}.${domain}`;

export function routeKind(port: PortSpec): RouteKind {
  if (port.protocol === 'http') return port.tls === 'passthrough' ? 'tls-passthrough' : 'tls-terminate';
  return port.protocol;
}

/** Where an app is published: every zone with a registered node, narrowed by its zone constraint. */
export function appZones(app: AppRecord, nodes: readonly NodeInfo[]): string[] {
  const zones = [...new Set(nodes.map((n) => n.zone))].sort();
  const allowed = app.spec.constraints.zones;
  return allowed ? zones.filter((z) => allowed.includes(z)) : zones;
}

export interface RouteInput {
  apps: readonly AppRecord[];
  nodes: readonly NodeInfo[];
  instances: readonly InstanceRecord[];
  domain: string;
  /** The certificate for a tls-terminate route's host; undefined leaves the route out until there is one. */
  certFor: (app: AppRecord, port: PortSpec, host: string) => CertFiles | undefined;
}

export function buildRoutes(input: RouteInput): RouteTable {
  const nodes = new Map(input.nodes.map((n) => [n.id, n]));
  const routes: Route[] = [];
  for (const app of [...input.apps].sort((a, b) => a.name.localeCompare(b.name))) {
    // Stopping instances are left out, so the router drains them while their node stops them.
    const running = input.instances.filter(
      (i) => i.app === app.name && i.desired === 'run' && nodes.get(i.nodeId ?? '')?.state === 'ready',
    );
    for (const port of app.spec.ports) {
      const instances = running
        .filter((i) => i.status?.ports[port.name] !== undefined)
        .map((i) => ({
          id: i.id,
          host: nodes.get(i.nodeId!)!.address,
          port: i.status!.ports[port.name],
          healthy: isHealthy(i),
        }));
      const check = app.spec.health?.port === port.name ? app.spec.health : undefined;
      for (const zone of appZones(app, input.nodes)) {
        const host = appHost(app, zone, input.domain);
        const route: Route = { app: app.name, id: app.id, zone, host, kind: routeKind(port), balance: port.balance, instances };
        if (port.listenPort !== undefined) route.listenPort = port.listenPort;
        if (check) route.health = check.type === 'http' ? { type: 'http', path: check.path } : { type: 'tcp' };
        if (route.kind === 'tls-terminate') {
          const files = input.certFor(app, port, host);
          if (!files) continue;
          route.cert = files.cert;
          route.key = files.key;
        }
        routes.push(route);
      }
    }
  }
  return { version: 1, domain: input.domain, routes };
}
