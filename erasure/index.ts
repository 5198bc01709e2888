export { join, MAX_SHARDS, type MaybeShard, ReedSolomon, split } from './codec.js';
export { InvalidCodeError, ShardCountError, ShardLengthError, TooFewShardsError } from './errors.js';
