export type { ListOptions, ListPage, ShardStore, StoreOptions, StoreStat } from './types.js';
export {
  InvalidShardIdError,
  OperationAbortedError,
  ShardCorruptError,
  ShardNotFoundError,
  StoreFullError,
  StoreUnavailableError,
} from './errors.js';
export { DEFAULT_LIST_LIMIT } from './base.js';
export { MemoryStore, type MemoryStoreOptions } from './memory.js';
export { LocalStore, type LocalStoreOptions } from './local.js';
