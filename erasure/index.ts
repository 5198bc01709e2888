export { join, MAX_SHARDS, type MaybeShard, ReedSolomon, split, uninitialized } from './codec.js';
export { InvalidCodeError, ShardCountError, ShardLengthError, TooFewShardsError } from './errors.js';
