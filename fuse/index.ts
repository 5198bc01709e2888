// The FUSE mount of a volume: fuse-native's operations answered by a VolumeFs,
// and the mount point's lifecycle.
export { fuseOps, type AdapterOptions, type FailureLog } from './adapter.js';
export { requestRecordProblem } from './request-record.js';
export { MountError, MountPointBusyError, MountPointError, UnmountError } from './errors.js';
export { IO_SIZE } from './io-size.js';
export { mountVolume, type MountOptions, type Mounted } from './mount.js';
export { NoopFs, type NoopStats } from './noop.js';
