import { CairnError } from '../errors/index.js';

/** An API error with the HTTP status the server answers it with. */
export class ControlError extends CairnError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

export class NoSuchAppError extends ControlError {
  constructor(name: string) {
    super('control.no-such-app', `no app named "${name}"; \`cairn app ls\` lists them`, 404);
  }
}

export class NoSuchNodeError extends ControlError {
  constructor(id: string) {
    super('control.no-such-node', `no node with id ${id} is registered (it left or was never registered)`, 404);
  }
}

export class ConflictError extends ControlError {
  constructor(message: string) {
    super('control.conflict', message, 409);
  }
}

/** The control plane could not be reached at all. */
export class ControlUnreachableError extends CairnError {
  constructor(url: string, cause: unknown) {
    const why = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
    super(
      'control.unreachable',
      `cannot reach the control plane at ${url} (${why}); start one with \`cairn control start\` ` +
        'or point --control or $CAIRN_CONTROL at it',
      { cause },
    );
  }
}

/** An answer from the control plane that is not the API's (another program on the port, or a version mismatch). */
export class ControlProtocolError extends CairnError {
  constructor(url: string, detail: string) {
    super('control.protocol', `unexpected answer from ${url}: ${detail}`);
  }
}
