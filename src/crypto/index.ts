export { SHARD_ID_BYTES, type ShardId, isShardId, shardId } from './hash.js';
