/**
 * The AWS SDK, on first use (repo/lazy.ts): the largest package Cairn has,
 * and most commands (every mount on local stores or peers) never talk to a bucket.
 */
import { lazyRequire } from '../repo/index.js';

export const s3Sdk = lazyRequire<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3');
