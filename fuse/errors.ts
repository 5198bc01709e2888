import { CairnError } from '../src/errors/index.js';

/** The mount point holds files (or is already a mount point); mounting would hide them. */
export class MountPointBusyError extends CairnError {
  constructor(message: string) {
    super('mount.busy', message);
  }
}

/** The mount point is missing or not a directory. */
export class MountPointError extends CairnError {
  constructor(message: string) {
    super('mount.invalid', message);
  }
}

/** libfuse refused to mount; its own reason is on stderr. */
export class MountError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('mount.failed', message, options);
  }
}

/** Even a lazy unmount failed; the mount point is still attached. */
export class UnmountError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('mount.unmount_failed', message, options);
  }
}
