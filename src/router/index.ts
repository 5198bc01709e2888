export { startRouter, ROUTER_DEFAULTS } from './router.js';
export type { Router, RouterOptions, RouterPorts } from './router.js';
export { parseRouteTable, parseRouteTableJson, readRouteTableFile } from './table.js';
export type { Balance, HealthCheck, Route, RouteInstance, RouteKind, RouteTable } from './types.js';
export { ensureDevCa, issueCertificate } from './ca.js';
export type { DevCa, IssuedCert } from './ca.js';
export { DevCaError, ListenError, RouteTableError } from './errors.js';
export { probe } from './health.js';
export type { ProbeOptions } from './health.js';
