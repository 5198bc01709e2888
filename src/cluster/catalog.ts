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

export interface CatalogEntry {
  name: string;
  /** 32 hex characters. */
  id: string;
  k: number;
  m: number;
  blockSize: number;
  backend: 'local';
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
    for (const r of await this.#backend.each((s) => s.getHead(this.#idHex))) {
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
