import { CairnError } from '../errors/index.js';

export class KeyringExistsError extends CairnError {
  constructor(path: string) {
    super(
      'cluster.keyring-exists',
      `a keyring already exists at ${path}; \`cairn init --force\` replaces it (the old one is kept beside it as a backup)`,
    );
  }
}

export class NoKeyringError extends CairnError {
  constructor(path: string) {
    super('cluster.no-keyring', `no keyring at ${path}; run \`cairn init\` first (or set CAIRN_HOME)`);
  }
}
