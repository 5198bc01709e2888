/**
 * The catalog: which volumes exist (name, id, code, block size, backend,
 * wrapped key). It is sealed and signed with keys derived from the master
 * key and kept as a head record on the stores, so any machine holding the
 * keyring sees the same volumes. Updates are compare-and-set on its seq.
 */
import { deriveKey, volumeKeys } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { StaleHeadError } from '../store/index.js';
import { type Backend, BackendError, decodeHead, encodeHead } from '../volume/index.js';
import { type Backends, catalogHomes, parseBackendSpec } from './backends.js';

export interface CatalogEntry {
  name: string;
  /** 32 hex characters. */
  id: string;
  k: number;
  m: number;
  blockSize: number;
  /** The backend spec: local, peers or bucket:B1[,B2…]. */
  backend: string;
  /** The volume key wrapped by the master key (base64). */
  wrappedKey: string;
  createdMs: number;
}

export class VolumeNotFoundError extends CairnError {
  constructor(name: string) {
    super('cluster.no-such-volume', `no volume named "${name}"; \`cairn volume ls\` lists them`);
  }
}

export class VolumeExistsError extends CairnError {
  constructor(name: string) {
    super('cluster.volume-exists', `a volume named "${name}" already exists`);
  }
}

const UPDATE_TRIES = 5;

export class Catalog {
  readonly #backend: Backend;
  readonly #keys: ReturnType<typeof volumeKeys>;
  readonly #id: Uint8Array;

  constructor(backend: Backend, masterKey: Uint8Array) {
    this.#backend = backend;
    this.#keys = volumeKeys(deriveKey(masterKey, 'cluster/catalog'));
    this.#id = this.#keys.ids.subarray(0, 16);
  }

  get #idHex(): string {
    return Buffer.from(this.#id).toString('hex');
  }

  async list(): Promise<CatalogEntry[]> {
    return (await this.#read()).entries;
  }

  async get(name: string): Promise<CatalogEntry> {
    const entry = (await this.list()).find((e) => e.name === name);
    if (!entry) throw new VolumeNotFoundError(name);
    return entry;
  }

  /** Read, change, write with seq + 1; retried when another writer got there first. */
  async update(change: (entries: CatalogEntry[]) => CatalogEntry[]): Promise<CatalogEntry[]> {
    for (let attempt = 1; ; attempt++) {
      const { entries, seq } = await this.#read();
      const next = change(entries);
      const body = encodeHead(
        { volumeId: this.#id, epoch: 0, seq: seq + 1, root: new TextEncoder().encode(JSON.stringify(next)) },
        this.#keys,
      );
      const results = await this.#backend.each((s) =>
        s.putHead({ volumeId: this.#idHex, epoch: 0, seq: seq + 1, body }),
        { quorum: true },
      );
      const accepted = results.filter((r) => r.status === 'fulfilled').length;
      if (accepted >= this.#backend.quorum) return next;
      const raced = results.some((r) => r.status === 'rejected' && r.reason instanceof StaleHeadError);
      if (!raced || attempt >= UPDATE_TRIES) {
        throw new BackendError(`the catalog update was accepted by ${accepted} of ${results.length} stores`);
      }
    }
  }

  async #read(): Promise<{ entries: CatalogEntry[]; seq: number }> {
    let best: { entries: CatalogEntry[]; seq: number } | undefined;
    const results = await this.#backend.each((s) => s.getHead(this.#idHex), { quorum: true });
    const failed = results.filter((r) => r.status === 'rejected');
    // An empty answer from stores that were not reached would hide every volume: say so instead.
    if (failed.length === results.length) {
      throw new BackendError(`the catalog is unreachable: ${(failed[0] as PromiseRejectedResult).reason?.message}`, {
        cause: (failed[0] as PromiseRejectedResult).reason,
      });
    }
    for (const r of results) {
      if (r.status !== 'fulfilled' || !r.value) continue;
      try {
        const head = decodeHead(r.value.body, this.#keys, this.#id);
        if (!best || head.seq > best.seq) {
          best = { seq: head.seq, entries: JSON.parse(new TextDecoder().decode(head.root)) as CatalogEntry[] };
        }
      } catch {
        // Not signed by this cluster's key: ignored.
      }
    }
    return best ?? { entries: [], seq: 0 };
  }
}

/**
 * Every catalog this machine can reach, as one: `local`, the peers, and each
 * configured bucket. A volume is written to each catalog of its backend
 * (catalogHomes) and found in any of them.
 */
export class Catalogs {
  readonly #backends: Backends;
  readonly #masterKey: Uint8Array;
  readonly #open = new Map<string, Catalog>();

  constructor(backends: Backends, masterKey: Uint8Array) {
    this.#backends = backends;
    this.#masterKey = masterKey;
  }

  async #catalog(home: string): Promise<Catalog> {
    let catalog = this.#open.get(home);
    if (!catalog) {
      catalog = new Catalog(await this.#backends.catalogBackend(home), this.#masterKey);
      this.#open.set(home, catalog);
    }
    return catalog;
  }

  /** Volumes of every reachable home, each once; the homes that could not be read are named in `unreachable`. */
  async list(): Promise<{ entries: CatalogEntry[]; unreachable: { home: string; error: Error }[] }> {
    const entries = new Map<string, CatalogEntry>();
    const unreachable: { home: string; error: Error }[] = [];
    for (const home of await this.#backends.homes()) {
      try {
        for (const e of await (await this.#catalog(home)).list()) if (!entries.has(e.id)) entries.set(e.id, e);
      } catch (err) {
        unreachable.push({ home, error: err as Error });
      }
    }
    return { entries: [...entries.values()], unreachable };
  }

  async get(name: string): Promise<CatalogEntry> {
    const { entries, unreachable } = await this.list();
    const entry = entries.find((e) => e.name === name);
    if (entry) return entry;
    if (unreachable.length > 0) {
      throw new BackendError(
        `no volume named "${name}" in the reachable catalogs; unreachable: ${unreachable.map((u) => `${u.home} (${u.error.message})`).join(', ')}`,
      );
    }
    throw new VolumeNotFoundError(name);
  }

  /** Lists `entry` in every catalog of its backend; refused when the name is taken in any reachable one. */
  async add(entry: CatalogEntry): Promise<void> {
    const { entries } = await this.list();
    if (entries.some((e) => e.name === entry.name)) throw new VolumeExistsError(entry.name);
    for (const home of catalogHomes(parseBackendSpec(entry.backend))) {
      await (await this.#catalog(home)).update((list) => {
        if (list.some((e) => e.name === entry.name)) throw new VolumeExistsError(entry.name);
        return [...list, entry];
      });
    }
  }

  async remove(entry: CatalogEntry): Promise<void> {
    for (const home of catalogHomes(parseBackendSpec(entry.backend))) {
      await (await this.#catalog(home)).update((list) => list.filter((e) => e.id !== entry.id));
    }
  }
}
