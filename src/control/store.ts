/**
 * The control plane's durable state in a `level` database: apps, nodes and
 * instances as JSON under `app:`, `node:` and `inst:` keys, plus the instance
 * id counter. What agents report (instance status, last heartbeat) is not
 * stored: it is re-sent every second.
 */
import type { Level } from 'level';
import { CairnError } from '../errors/index.js';
import type { AppRecord, InstanceRecord, NodeInfo } from '../scheduler/model.js';

type StoredNode = Omit<NodeInfo, 'lastSeenMs'>;
type StoredInstance = Omit<InstanceRecord, 'status'>;

export interface Loaded {
  apps: AppRecord[];
  nodes: StoredNode[];
  instances: StoredInstance[];
  counter: number;
}

const PREFIXES = { app: 'app:', node: 'node:', inst: 'inst:' } as const;
const COUNTER = 'meta:counter';
/** Bumped if the records change shape; an unknown version refuses to start instead of misreading. */
const SCHEMA = 'meta:schema';
const SCHEMA_VERSION = 1;

export type Change =
  | { kind: 'app'; key: string; value?: AppRecord }
  | { kind: 'node'; key: string; value?: NodeInfo }
  | { kind: 'inst'; key: string; value?: InstanceRecord }
  | { kind: 'counter'; value: number };

export class ControlStore {
  readonly #db: Level<string, unknown>;
  #queue: Promise<void> = Promise.resolve();

  private constructor(db: Level<string, unknown>) {
    this.#db = db;
  }

  static async open(dir: string): Promise<ControlStore> {
    const { Level } = await import('level');
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') {
        throw new CairnError('control.busy', `another control plane uses ${dir}; give each its own --state directory`);
      }
      throw err;
    }
    const schema = await db.get(SCHEMA);
    if (schema === undefined) await db.put(SCHEMA, SCHEMA_VERSION);
    else if (schema !== SCHEMA_VERSION) {
      await db.close();
      throw new CairnError(
        'control.schema',
        `the control plane state in ${dir} has schema ${String(schema)}, this cairn reads ${SCHEMA_VERSION}; run the cairn that wrote it`,
      );
    }
    return new ControlStore(db);
  }

  async load(): Promise<Loaded> {
    const all = async <T>(prefix: string): Promise<T[]> => {
      const out: T[] = [];
      for await (const value of this.#db.values({ gte: prefix, lt: `${prefix}\xff` })) out.push(value as T);
      return out;
    };
    return {
      apps: await all<AppRecord>(PREFIXES.app),
      nodes: await all<StoredNode>(PREFIXES.node),
      instances: await all<StoredInstance>(PREFIXES.inst),
      counter: ((await this.#db.get(COUNTER)) as number | undefined) ?? 0,
    };
  }

  /** Writes the changes as one batch, after the batches before it. */
  write(changes: readonly Change[]): Promise<void> {
    const ops = changes.map((c) => {
      if (c.kind === 'counter') return { type: 'put' as const, key: COUNTER, value: c.value };
      const key = `${PREFIXES[c.kind]}${c.key}`;
      if (c.value === undefined) return { type: 'del' as const, key };
      return { type: 'put' as const, key, value: strip(c) };
    });
    const next = this.#queue.then(() => (ops.length > 0 ? this.#db.batch(ops) : undefined));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#db.close();
  }
}

function strip(c: Exclude<Change, { kind: 'counter' }>): unknown {
  if (c.kind === 'node' && c.value) {
    const { lastSeenMs: _seen, ...rest } = c.value;
    return rest;
  }
  if (c.kind === 'inst' && c.value) {
    const { status: _status, ...rest } = c.value;
    return rest;
  }
  return c.value;
}
