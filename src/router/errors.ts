import { CairnError } from '../errors/index.js';

/** A route table that cannot be used; the router keeps serving the last good one. */
export class RouteTableError extends CairnError {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super('router.route-table', `route table from ${source} is invalid: ${detail}`);
  }
}

/** A port could not be opened (taken, no permission). For a route's port, the other routes keep working. */
export class ListenError extends CairnError {
  constructor(
    readonly what: string,
    readonly address: string,
    readonly port: number,
    hint: string,
    cause: Error,
  ) {
    const reason = (cause as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the port is in use' : cause.message;
    super('router.listen', `cannot listen on ${address}:${port} for ${what}: ${reason}; ${hint}`, { cause });
  }
}

/** The dev certificate authority could not make or read a certificate. */
export class DevCaError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('router.dev-ca', message, options);
  }
}
