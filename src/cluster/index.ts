export { KeyringExistsError, NoKeyringError } from './errors.js';
export { type InitResult, initKeyring, keyringPath, resolveHome, rewriteKeyring, unlockKeyring } from './home.js';
