export { RUNC_ROOT, runContainer, STOP_TIMEOUT_MS } from './runner.js';
export { buildRootfs, defaultRootfsDir } from './rootfs.js';
export { CAPABILITIES } from './oci.js';
export type { ContainerMount, ContainerResult, ContainerSpec } from './types.js';
export {
  BusyboxMissingError,
  ContainerAbortedError,
  ContainerCleanupError,
  InvalidContainerSpecError,
  MountSourceMissingError,
  NotRootError,
  RootfsMissingError,
  RuncMissingError,
} from './errors.js';
