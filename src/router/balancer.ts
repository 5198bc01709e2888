/**
 * One route's instances and how the next connection picks among them. Pure
 * bookkeeping (the clock is passed in): the listeners report connections
 * opened and closed and upstream failures; the health checker reports check
 * results; pick() answers with an instance that is healthy by the control
 * plane, by the active checks, not ejected and not draining.
 */
import type { Balance, Route, RouteInstance } from './types.js';

/** Something the router can cut when a drain times out (a proxied connection or a UDP session). */
export interface Closable {
  destroy(): void;
}

export interface EjectionPolicy {
  /** Consecutive failed connects to an instance that eject it. */
  after: number;
  /** First ejection lasts this long; each further one in a row doubles it, up to maxMs. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_EJECTION: EjectionPolicy = { after: 2, baseMs: 5_000, maxMs: 60_000 };

export class Instance {
  readonly key: string;
  controlHealthy: boolean;
  /** The active checks' verdict; instances start healthy so a new route serves at once. */
  checkHealthy = true;
  failures = 0;
  ejections = 0;
  ejectedUntil = 0;
  draining = false;
  readonly connections = new Set<Closable>();

  constructor(
    readonly id: string,
    readonly host: string,
    readonly port: number,
    healthy: boolean,
  ) {
    this.key = instanceKey(id, host, port);
    this.controlHealthy = healthy;
  }

  get active(): number {
    return this.connections.size;
  }
}

/** Same id at a new address is a new instance: connections to the old address drain. */
const instanceKey = (id: string, host: string, port: number) => `${id}@${host}:${port}`;

export class Pool {
  balance: Balance;
  #live: Instance[] = [];
  readonly #draining = new Set<Instance>();
  #cursor = 0;

  constructor(
    route: Route,
    readonly ejection: EjectionPolicy = DEFAULT_EJECTION,
    readonly now: () => number = Date.now,
  ) {
    this.balance = route.balance;
    this.update(route);
  }

  get instances(): readonly Instance[] {
    return this.#live;
  }

  get draining(): readonly Instance[] {
    return [...this.#draining];
  }

  /**
   * Takes the route's current instance list. Instances still listed keep
   * their counters and connections; those gone start draining and are
   * returned, so the caller can time the drain out.
   */
  update(route: Route | { balance: Balance; instances: RouteInstance[] }): Instance[] {
    this.balance = route.balance;
    const old = new Map(this.#live.map((i) => [i.key, i]));
    const back = new Map([...this.#draining].map((i) => [i.key, i]));
    this.#live = route.instances.map((r) => {
      const key = instanceKey(r.id, r.host, r.port);
      const existing = old.get(key) ?? back.get(key);
      old.delete(key);
      if (existing) {
        existing.controlHealthy = r.healthy;
        existing.draining = false;
        this.#draining.delete(existing);
        return existing;
      }
      return new Instance(r.id, r.host, r.port, r.healthy);
    });
    const gone = [...old.values()];
    for (const i of gone) this.#drain(i);
    return gone;
  }

  /** Every instance drains: the route is gone. */
  retire(): Instance[] {
    const gone = this.#live;
    this.#live = [];
    for (const i of gone) this.#drain(i);
    return gone;
  }

  #drain(i: Instance): void {
    i.draining = true;
    if (i.active > 0) this.#draining.add(i);
  }

  eligible(i: Instance): boolean {
    return !i.draining && i.controlHealthy && i.checkHealthy && i.ejectedUntil <= this.now();
  }

  /** The instance for the next connection, or undefined when none is eligible. `skip` holds ones already tried. */
  pick(skip: ReadonlySet<Instance> = new Set()): Instance | undefined {
    const n = this.#live.length;
    let best: Instance | undefined;
    let bestAt = 0;
    for (let k = 0; k < n; k++) {
      const at = (this.#cursor + k) % n;
      const i = this.#live[at];
      if (skip.has(i) || !this.eligible(i)) continue;
      if (this.balance === 'round-robin') {
        best = i;
        bestAt = at;
        break;
      }
      if (!best || i.active < best.active) {
        best = i;
        bestAt = at;
      }
    }
    if (best) this.#cursor = (bestAt + 1) % n;
    return best;
  }

  /** A connection (or UDP session) now goes to `i`. */
  open(i: Instance, c: Closable): void {
    i.connections.add(c);
  }

  /** It ended; a drained instance with nothing left open is forgotten. */
  close(i: Instance, c: Closable): void {
    i.connections.delete(c);
    if (i.draining && i.active === 0) this.#draining.delete(i);
  }

  /** A connect to `i` failed (refused, unreachable, timed out): passive ejection after enough in a row. */
  failed(i: Instance): void {
    i.failures++;
    if (i.failures < this.ejection.after) return;
    i.failures = 0;
    i.ejectedUntil = this.now() + Math.min(this.ejection.baseMs * 2 ** i.ejections, this.ejection.maxMs);
    i.ejections = Math.min(i.ejections + 1, 30);
  }

  succeeded(i: Instance): void {
    i.failures = 0;
    if (i.ejectedUntil <= this.now()) i.ejections = 0;
  }
}
