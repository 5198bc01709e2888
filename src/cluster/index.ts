export { Catalog, type CatalogEntry, VolumeExistsError, VolumeNotFoundError } from './catalog.js';
export { KeyringExistsError, NoKeyringError } from './errors.js';
export { type InitResult, initKeyring, keyringPath, resolveHome, rewriteKeyring, unlockKeyring } from './home.js';
export { CATALOG_STORES, LocalStores, storesDir } from './local.js';
