/**
 * The control plane's state and operations: apps deployed, nodes registered,
 * instances assigned; the scheduler's plan applied every tick; reports and
 * logs from node agents taken in. All state changes happen synchronously on
 * this one object (Node's single thread is the lock) and are then written to
 * the store in order.
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/index.js';
import type { AppRecord, InstanceRecord, NodeInfo } from '../scheduler/model.js';
import { type Plan, emptyPlan, reconcile, stoppedInstances } from '../scheduler/reconcile.js';
import { used } from '../scheduler/placement.js';
import { type AppSpec, type PortSpec, validateAppSpec, writableVolumes } from '../scheduler/spec.js';
import {
  API_VERSION,
  type AppView,
  type Assignment,
  type DeployResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type InstanceView,
  type LogsResponse,
  type NodeView,
  type RegisterRequest,
} from './api.js';
import { ConflictError, ControlError, NoSuchAppError, NoSuchNodeError } from './errors.js';
import { LogBook, MAX_LINE_CHARS } from './logs.js';
import { type CertFiles, type RouteTable, appHost, appZones, buildRoutes } from './routes.js';
import type { Change, ControlStore } from './store.js';

export interface PlaneOptions {
  domain: string;
  nodeTimeoutMs: number;
  /** Issues the certificate of a tls-terminate route's host (a dev CA). */
  issueCertificate?: (host: string) => Promise<CertFiles>;
  log: Logger;
}

/** Short, lowercase, unique enough among one cluster's apps. */
const newAppId = () =>
  Array.from(randomBytes(6), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');

/** A spec change that only scales keeps the version: no rollout to change the number of replicas. */
const sameButReplicas = (a: AppSpec, b: AppSpec) => isDeepStrictEqual({ ...a, replicas: 0 }, { ...b, replicas: 0 });

const MAX_LOG_LINES_PER_REPORT = 1000;
const MAX_INSTANCES_PER_REPORT = 1000;

export class ControlPlane {
  readonly apps = new Map<string, AppRecord>();
  readonly nodes = new Map<string, NodeInfo>();
  readonly instances = new Map<string, InstanceRecord>();
  readonly #pending = new Map<string, string>();
  readonly #logs = new LogBook();
  readonly #certs = new Map<string, CertFiles>();
  readonly #issuing = new Map<string, Promise<void>>();
  readonly #store: ControlStore;
  readonly #options: PlaneOptions;
  #counter = 0;

  private constructor(store: ControlStore, options: PlaneOptions) {
    this.#store = store;
    this.#options = options;
  }

  static async load(store: ControlStore, options: PlaneOptions, nowMs = Date.now()): Promise<ControlPlane> {
    const plane = new ControlPlane(store, options);
    const loaded = await store.load();
    for (const a of loaded.apps) plane.apps.set(a.name, a);
    // After a restart every node gets a full timeout to report in before it is judged lost.
    for (const n of loaded.nodes) plane.nodes.set(n.id, { ...n, lastSeenMs: nowMs });
    for (const i of loaded.instances) plane.instances.set(i.id, i);
    plane.#counter = loaded.counter;
    return plane;
  }

  // ---- apps ----

  async deploy(doc: unknown): Promise<DeployResponse> {
    const spec = validateAppSpec(doc);
    this.#checkConflicts(spec);
    this.#checkCertificates(spec);
    const existing = this.apps.get(spec.name);
    let app: AppRecord;
    if (!existing) app = { name: spec.name, id: newAppId(), version: 1, spec };
    else if (isDeepStrictEqual(existing.spec, spec)) return { app: this.appView(existing), changed: false };
    else app = { ...existing, version: sameButReplicas(existing.spec, spec) ? existing.version : existing.version + 1, spec };
    this.apps.set(app.name, app);
    this.#options.log.info({ app: app.name, version: app.version }, 'app deployed');
    const changes = this.#apply(this.#plan(), [{ kind: 'app', key: app.name, value: app }]);
    await this.#store.write(changes);
    return { app: this.appView(app), changed: true };
  }

  async remove(name: string): Promise<void> {
    if (!this.apps.delete(name)) throw new NoSuchAppError(name);
    this.#logs.drop(name);
    this.#options.log.info({ app: name }, 'app removed');
    await this.#store.write(this.#apply(this.#plan(), [{ kind: 'app', key: name }]));
  }

  #checkConflicts(spec: AppSpec): void {
    for (const other of this.apps.values()) {
      if (other.name === spec.name) continue;
      for (const v of writableVolumes(spec)) {
        if (other.spec.volumes.some((w) => w.name === v && !w.readOnly)) {
          throw new ConflictError(`volume "${v}" is already mounted read-write by app "${other.name}" (one writer per volume)`);
        }
      }
      for (const p of spec.ports) {
        const clash = other.spec.ports.find(
          (q) => p.listenPort !== undefined && q.listenPort === p.listenPort && (q.protocol === 'udp') === (p.protocol === 'udp'),
        );
        if (clash) throw new ConflictError(`router port ${p.listenPort} is already used by app "${other.name}" (port ${clash.name})`);
      }
    }
  }

  #checkCertificates(spec: AppSpec): void {
    const bare = spec.ports.find((p) => p.tls === 'terminate' && p.cert === undefined);
    if (bare && !this.#options.issueCertificate) {
      throw new ControlError(
        'control.no-certificate',
        `port ${bare.name}: tls: terminate needs cert and key files, since this control plane has no CA to issue them ` +
          '(`cairn control start --ca DIR` has one)',
        400,
      );
    }
  }

  listApps(): AppView[] {
    return [...this.apps.values()].sort((a, b) => a.name.localeCompare(b.name)).map((a) => this.appView(a));
  }

  getApp(name: string): AppView {
    const app = this.apps.get(name);
    if (!app) throw new NoSuchAppError(name);
    return this.appView(app);
  }

  appView(app: AppRecord): AppView {
    const nodes = [...this.nodes.values()];
    return {
      ...app,
      hosts: appZones(app, nodes).map((z) => appHost(app, z, this.#options.domain)),
      instances: this.#instanceViews((i) => i.app === app.name),
    };
  }

  #instanceViews(filter: (i: InstanceRecord) => boolean): InstanceView[] {
    return [...this.instances.values()]
      .filter(filter)
      .sort((a, b) => a.slot - b.slot || a.version - b.version || a.id.localeCompare(b.id))
      .map(({ spec: _spec, ...i }) => {
        const view: InstanceView = { ...i };
        if (i.nodeId) view.node = this.nodes.get(i.nodeId)?.name;
        const pending = this.#pending.get(i.id);
        if (pending) view.pending = pending;
        return view;
      });
  }

  logs(name: string, after: number): LogsResponse {
    if (!this.apps.has(name)) throw new NoSuchAppError(name);
    return this.#logs.read(name, after);
  }

  // ---- nodes ----

  async register(req: RegisterRequest, nowMs = Date.now()): Promise<NodeInfo> {
    if (req.api !== API_VERSION) {
      throw new ControlError('control.api-version', `this control plane speaks API ${API_VERSION}, the agent ${req.api}; run the same cairn on both`, 400);
    }
    const changes: Change[] = [];
    for (const other of this.nodes.values()) {
      if (other.name !== req.name || other.id === req.id) continue;
      if (other.state === 'ready') {
        throw new ConflictError(`a node named "${req.name}" is already registered and live; give this one another --name`);
      }
      // The old node with this name is lost: the new one replaces it (its instances were moved already).
      this.nodes.delete(other.id);
      changes.push({ kind: 'node', key: other.id });
    }
    const node: NodeInfo = {
      id: req.id,
      name: req.name,
      zone: req.zone,
      labels: req.labels,
      capacity: req.capacity,
      address: req.address,
      lastSeenMs: nowMs,
      state: 'ready',
    };
    this.nodes.set(node.id, node);
    this.#options.log.info({ node: node.name, zone: node.zone }, 'node registered');
    await this.#store.write(this.#apply(this.#plan(nowMs), [...changes, { kind: 'node', key: node.id, value: node }]));
    return node;
  }

  /** A node leaving cleanly: its instances are stopped and their volumes released, so no takeover is needed. */
  async leave(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) throw new NoSuchNodeError(id);
    this.nodes.delete(id);
    this.#options.log.info({ node: node.name }, 'node left');
    await this.#store.write(this.#apply(this.#plan(), [{ kind: 'node', key: id }]));
  }

  heartbeat(id: string, report: HeartbeatRequest, nowMs = Date.now()): HeartbeatResponse {
    const node = this.nodes.get(id);
    if (!node) throw new NoSuchNodeError(id);
    node.lastSeenMs = nowMs;
    const changes: Change[] = [];
    if (node.state === 'lost') {
      node.state = 'ready';
      changes.push({ kind: 'node', key: id, value: node });
      this.#options.log.warn({ node: node.name }, 'lost node is back; the instances moved away stay moved');
    }
    const reported = new Set<string>();
    for (const r of (report.instances ?? []).slice(0, MAX_INSTANCES_PER_REPORT)) {
      reported.add(r.id);
      const instance = this.instances.get(r.id);
      // Only the node the instance is assigned to speaks for it.
      if (!instance || instance.nodeId !== id) continue;
      const { id: _id, ...status } = r;
      instance.status = status;
    }
    for (const gone of stoppedInstances([...this.instances.values()], id, reported)) {
      this.instances.delete(gone);
      changes.push({ kind: 'inst', key: gone });
    }
    for (const line of (report.logs ?? []).slice(0, MAX_LOG_LINES_PER_REPORT)) {
      const app = this.instances.get(line.instance)?.app;
      if (app && this.apps.has(app)) this.#logs.add(app, { ...line, text: String(line.text).slice(0, MAX_LINE_CHARS) });
    }
    if (changes.length > 0) void this.#store.write(changes).catch((err: unknown) => this.#writeFailed(err));
    return { instances: this.assignments(id) };
  }

  assignments(nodeId: string): Assignment[] {
    return [...this.instances.values()]
      .filter((i) => i.nodeId === nodeId && i.desired === 'run')
      .map((i) => ({ id: i.id, app: i.app, slot: i.slot, version: i.version, spec: i.spec, takeover: i.takeover }));
  }

  listNodes(nowMs = Date.now()): NodeView[] {
    const all = [...this.instances.values()];
    return [...this.nodes.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => ({
        ...n,
        silentMs: Math.max(0, nowMs - n.lastSeenMs),
        instances: all.filter((i) => i.nodeId === n.id).length,
        used: used(n.id, all),
      }));
  }

  // ---- the scheduler ----

  /** One scheduling pass: declare silent nodes lost, move and start instances, roll versions. */
  async tick(nowMs = Date.now()): Promise<void> {
    const plan = this.#plan(nowMs);
    if (emptyPlan(plan)) return;
    await this.#store.write(this.#apply(plan, []));
  }

  #plan(nowMs = Date.now()): Plan {
    return reconcile(
      { apps: [...this.apps.values()], nodes: [...this.nodes.values()], instances: [...this.instances.values()] },
      {
        nowMs,
        nodeTimeoutMs: this.#options.nodeTimeoutMs,
        newInstanceId: (app, slot) => `${app}-${slot}-${(++this.#counter).toString(36)}`,
      },
    );
  }

  #apply(plan: Plan, changes: Change[]): Change[] {
    const log = this.#options.log;
    for (const id of plan.lost) {
      const node = this.nodes.get(id)!;
      node.state = 'lost';
      changes.push({ kind: 'node', key: id, value: node });
      log.warn({ node: node.name, silentMs: Date.now() - node.lastSeenMs }, 'node lost: moving its instances');
    }
    for (const id of plan.remove) {
      this.instances.delete(id);
      this.#pending.delete(id);
      changes.push({ kind: 'inst', key: id });
    }
    for (const id of plan.stop) {
      const i = this.instances.get(id)!;
      i.desired = 'stop';
      changes.push({ kind: 'inst', key: id, value: i });
    }
    for (const i of plan.create) {
      this.instances.set(i.id, i);
      changes.push({ kind: 'inst', key: i.id, value: i });
      log.info({ instance: i.id, node: i.nodeId && this.nodes.get(i.nodeId)?.name, takeover: i.takeover }, 'instance scheduled');
    }
    for (const { id, nodeId } of plan.place) {
      const i = this.instances.get(id)!;
      i.nodeId = nodeId;
      this.#pending.delete(id);
      changes.push({ kind: 'inst', key: id, value: i });
    }
    for (const { id, reason } of plan.pending) this.#pending.set(id, reason);
    if (plan.create.length > 0) changes.push({ kind: 'counter', value: this.#counter });
    return changes;
  }

  #writeFailed(err: unknown): void {
    this.#options.log.error({ err: (err as Error).message }, 'could not write control plane state');
  }

  // ---- routes ----

  /** The route table; tls-terminate routes wait for their certificate (issued once per host). */
  async routes(): Promise<RouteTable> {
    const input = {
      apps: [...this.apps.values()],
      nodes: [...this.nodes.values()],
      instances: [...this.instances.values()],
      domain: this.#options.domain,
    };
    const wanted: string[] = [];
    buildRoutes({
      ...input,
      certFor: (_app, port: PortSpec, host) => {
        if (port.cert === undefined && !this.#certs.has(host)) wanted.push(host);
        return undefined;
      },
    });
    await Promise.all(wanted.map((host) => this.#issue(host)));
    return buildRoutes({
      ...input,
      certFor: (_app, port, host) => (port.cert !== undefined ? { cert: port.cert, key: port.key! } : this.#certs.get(host)),
    });
  }

  #issue(host: string): Promise<void> {
    const issuer = this.#options.issueCertificate;
    if (!issuer) return Promise.resolve();
    let issuing = this.#issuing.get(host);
    if (!issuing) {
      issuing = issuer(host)
        .then((files) => void this.#certs.set(host, files))
        .catch((err: unknown) => this.#options.log.error({ host, err: (err as Error).message }, 'could not issue a certificate'))
        .finally(() => this.#issuing.delete(host));
      this.#issuing.set(host, issuing);
    }
    return issuing;
  }

  async close(): Promise<void> {
    await this.#store.close();
  }
}
