import { CairnError } from '../errors/index.js';

/** Fewer than k shards that check out: the block cannot be read from what was given. */
export class StripeUnrecoverableError extends CairnError {
  readonly usable: number;
  readonly needed: number;
  /** Shard indices given but rejected (wrong hash, length or header). */
  readonly bad: readonly number[];

  constructor(usable: number, needed: number, total: number, bad: readonly number[]) {
    const rejected = bad.length > 0 ? `; rejected as corrupt: shard ${bad.join(', ')}` : '';
    super(
      'stripe.unrecoverable',
      `stripe unreadable: ${usable} of ${total} shards usable, ${needed} needed${rejected}`,
    );
    this.usable = usable;
    this.needed = needed;
    this.bad = bad;
  }
}

/** Descriptor bytes that do not parse (truncated, unknown version, impossible values). */
export class DescriptorFormatError extends CairnError {
  constructor(problem: string) {
    super('stripe.descriptor-format', `bad stripe descriptor: ${problem}`);
  }
}

export class BlockTooLargeError extends CairnError {
  constructor(length: number, max: number) {
    super('stripe.block-too-large', `a block of ${length} bytes is over the ${max}-byte limit of one stripe`);
  }
}
