/**
 * The root of every error Cairn raises on purpose. `code` is stable and meant
 * for programs (and the CLI's exit paths); `message` is meant for people and
 * says what to do about it.
 */
export class CairnError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Input from a user or caller that cannot be acted on (bad flag, bad parameter). */
export class UsageError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('usage', message, options);
  }
}
