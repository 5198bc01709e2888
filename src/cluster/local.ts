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

export async function localBackend(home: string, count: number): Promise<Backend> {
  const dir = storesDir(home);
  const stores: ShardStore[] = [];
  for (let i = 0; i < count; i++) stores.push(await FileStore.open(join(dir, `store-${i}`)));
  return new Backend(stores);
}

export async function closeBackend(backend: Backend): Promise<void> {
  await Promise.all(backend.stores.map((s) => s.close()));
}
