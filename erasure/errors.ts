import { CairnError } from '../src/errors/index.js';

/** k, m out of range: k >= 1, m >= 0, k + m <= 256. */
export class InvalidCodeError extends CairnError {
  constructor(message: string) {
    super('erasure.invalid-code', message);
  }
}

/** Shards of different lengths, or of length zero. */
export class ShardLengthError extends CairnError {
  constructor(message: string) {
    super('erasure.shard-length', message);
  }
}

/** The wrong number of shards for the code (e.g. 5 data shards to a 4+2 codec). */
export class ShardCountError extends CairnError {
  constructor(message: string) {
    super('erasure.shard-count', message);
  }
}

/** More shards missing than the code's m parity shards can make up for. */
export class TooFewShardsError extends CairnError {
  readonly present: number;
  readonly needed: number;

  constructor(present: number, needed: number, total: number) {
    super(
      'erasure.too-few-shards',
      `cannot reconstruct: only ${present} of ${total} shards present, at least ${needed} needed`,
    );
    this.present = present;
    this.needed = needed;
  }
}
