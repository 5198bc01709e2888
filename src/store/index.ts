export type {
  HeadRecord,
  LeaseRecord,
  ListOptions,
  ListPage,
  ShardStore,
  StoreOptions,
  StoreStat,
} from './types.js';
export {
  InvalidRecordError,
  InvalidShardIdError,
  LeaseConflictError,
  OperationAbortedError,
  ShardCorruptError,
  ShardNotFoundError,
  StaleHeadError,
  StoreFullError,
  StoreUnavailableError,
} from './errors.js';
export { DEFAULT_LIST_LIMIT } from './base.js';
export { MAX_HEAD_BODY_BYTES, MAX_LEASE_HOLDER_CHARS } from './records.js';
export { MemoryStore, type MemoryStoreOptions } from './memory.js';
export { LocalStore, type LocalStoreOptions } from './local.js';
export { FileStore, type FileStoreOptions } from './files.js';
