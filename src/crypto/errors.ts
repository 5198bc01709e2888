import { CairnError } from '../errors/index.js';

/** Sealed bytes did not open: a wrong key, wrong associated data, or altered bytes. */
export class AuthenticationError extends CairnError {
  constructor(what = 'data') {
    super('crypto.authentication', `${what} failed authentication: wrong key, or the bytes were altered`);
  }
}

/** The keyring's passphrase did not open it. */
export class WrongPassphraseError extends CairnError {
  constructor(path: string) {
    super('crypto.wrong-passphrase', `wrong passphrase for the keyring at ${path}`);
  }
}

/** A keyring file that is not one, is truncated, or has a version we do not know. */
export class KeyringFormatError extends CairnError {
  constructor(path: string, problem: string) {
    super('crypto.keyring-format', `${path} is not a usable Cairn keyring: ${problem}`);
  }
}
