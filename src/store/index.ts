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
export { S3Store, type S3StoreOptions } from './s3.js';
export { BucketUnavailableError, type BucketProblem } from './s3-errors.js';
export { BucketObjects, type ListEntry } from './s3-objects.js';
export { type RecordsMode, conditionalWritesWork } from './s3-records.js';
export { type S3Credentials, type S3Location, S3Transport, type ServerClock, type TransportOptions } from './s3-transport.js';
export { LockTimeoutError, withLockFile } from './lockfile.js';
export { type FileRange, type PackTarget, type WrittenPack, PackDamagedError, writePack } from './packs.js';
