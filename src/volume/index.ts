export { Backend, BackendError, type StoreTraits } from './backend.js';
export { type Attr, type Errno, FsError, type StatFs, type VolumeFs } from './fs-types.js';
export { VolumeFileSystem } from './fs.js';
export { HeadError, decodeHead, encodeHead } from './head.js';
export type { BlockRef, Inode } from './meta.js';
export { FencedError, type OpenOptions, Volume, VolumeBusyError, type VolumeConfig } from './volume.js';
