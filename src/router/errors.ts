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

/** A route's listener could not be opened (port taken, no permission); the other routes keep working. */
export class RouteListenError extends CairnError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: Error,
  ) {
    super('router.listen', `cannot listen on port ${port} for ${host}: ${cause.message}; pick another listenPort`, {
      cause,
    });
  }
}

/** The dev certificate authority could not make or read a certificate. */
export class DevCaError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('router.dev-ca', message, options);
  }
}
