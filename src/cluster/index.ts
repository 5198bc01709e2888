export {
  type BackendSpec,
  Backends,
  type StoreProvider,
  catalogHomes,
  formatBackendSpec,
  parseBackendSpec,
} from './backends.js';
export { Catalog, type CatalogEntry, Catalogs, VolumeExistsError, VolumeNotFoundError } from './catalog.js';
export { KeyringExistsError, NoKeyringError } from './errors.js';
export {
  type InitResult,
  initKeyring,
  keyringPath,
  resolveHome,
  rewriteKeyring,
  unlockKeyring,
  writeFileAtomic,
} from './home.js';
export { CATALOG_STORES, LocalStores, storesDir } from './local.js';
export { type ClusterConfig, type PeerEntry, PeerProvider, bootstrapOf, clusterConfigPath, readClusterConfig, writeClusterConfig } from './peers.js';
