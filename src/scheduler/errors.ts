import { CairnError } from '../errors/index.js';

export class RuncMissingError extends CairnError {
  constructor(searched: string) {
    super(
      'scheduler.runc-missing',
      `runc is not installed (looked for ${searched}); run \`npm run setup\` or \`apt-get install runc\``,
    );
  }
}

/** runc without a rootless config needs root; its own error for this is cryptic. */
export class NotRootError extends CairnError {
  constructor() {
    super('scheduler.not-root', 'running containers needs root (runc is used without rootless mode); run as root');
  }
}

export class BusyboxMissingError extends CairnError {
  constructor(readonly path: string) {
    super(
      'scheduler.busybox-missing',
      `no busybox at ${path} to build the container rootfs from; run \`npm run setup\` or \`apt-get install busybox-static\``,
    );
  }
}

export class RootfsMissingError extends CairnError {
  constructor(readonly path: string) {
    super('scheduler.rootfs-missing', `no container rootfs at ${path}; run \`npm run setup\` to build it`);
  }
}

export class MountSourceMissingError extends CairnError {
  constructor(
    readonly source: string,
    readonly target: string,
  ) {
    super('scheduler.mount-source-missing', `cannot mount ${source} at ${target}: ${source} does not exist`);
  }
}

/** A container spec that cannot be turned into a valid OCI config. */
export class InvalidContainerSpecError extends CairnError {
  constructor(message: string) {
    super('scheduler.invalid-spec', message);
  }
}

export class ContainerAbortedError extends CairnError {
  constructor(
    readonly id: string,
    reason: unknown,
  ) {
    const why = reason instanceof Error ? reason.message : String(reason);
    super('scheduler.aborted', `container ${id} was stopped: ${why}`, { cause: reason });
  }
}

/** runc could not remove a container: its state (and maybe processes) are left behind. */
export class ContainerCleanupError extends CairnError {
  constructor(
    readonly id: string,
    detail: string,
  ) {
    super('scheduler.cleanup-failed', `could not remove container ${id}: ${detail}`);
  }
}
