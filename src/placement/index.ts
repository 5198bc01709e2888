export { place } from './place.js';
export { InsufficientStoresError, InvalidPlacementInput, type StoreShortage } from './errors.js';
export type { ErasureCode, PlaceOptions, Placement, StoreInfo } from './types.js';
export { MAX_SHARDS } from './validate.js';
