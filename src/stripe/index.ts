export { type StripeDescriptor, decodeDescriptor, encodeDescriptor } from './descriptor.js';
export { BlockTooLargeError, DescriptorFormatError, StripeUnrecoverableError } from './errors.js';
export { BlockKind, MAX_BLOCK_BYTES, SHARD_HEADER_BYTES, STRIPE_FORMAT_VERSION, shardBytes } from './format.js';
export { type OpenedStripe, openStripe } from './open.js';
export { rebuildShards } from './rebuild.js';
export { type ShardSource, openSources } from './sources.js';
export { type SealOptions, type SealedStripe, type StripeKeys, sealStripe } from './seal.js';
export { type HeldStripe, type SettledStripes, type Settling, type StripeSettler, StripeEngine, StripeWorkerError } from './engine.js';
