/**
 * The local backend: n stores in directories on this machine, still sealed
 * and coded (the single-machine default). They live in $CAIRN_STORES,
 * default $CAIRN_HOME/stores; point CAIRN_STORES at a disk that outlives the
 * machine to mount the same volumes elsewhere with only the keyring.
 */
import { join } from 'node:path';
import { FileStore, type ShardStore } from '../store/index.js';
import { Backend } from '../volume/index.js';

/** The catalog is kept on the first stores; 6 is the n of the default 4+2 code. */
export const CATALOG_STORES = 6;

export function storesDir(home: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.CAIRN_STORES || join(home, 'stores');
}

/** The stores of the local backend, each opened once per process however many volumes use it. */
export class LocalStores {
  readonly #dir: string;
  readonly #open: ShardStore[] = [];

  constructor(home: string) {
    this.#dir = storesDir(home);
  }

  /** A backend over the first `count` stores (a volume's n; the catalog's CATALOG_STORES). */
  async backend(count: number): Promise<Backend> {
    while (this.#open.length < count) {
      this.#open.push(await FileStore.open(join(this.#dir, `store-${this.#open.length}`)));
    }
    return new Backend(this.#open.slice(0, count));
  }

  async close(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((s) => s.close()));
  }
}
