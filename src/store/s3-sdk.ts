/**
 * The AWS SDK, loaded on first use rather than with the module graph: it is
 * the largest part of a `cairn` process's JavaScript heap, and most commands
 * (and every mount on local stores or peers) never talk to a bucket. The heap
 * is what every major garbage collection walks, and a busy mount runs one
 * every few dozen MiB.
 */
import { createRequire } from 'node:module';

type Sdk = typeof import('@aws-sdk/client-s3');

const require = createRequire(import.meta.url);
let loaded: Sdk | undefined;

export function s3Sdk(): Sdk {
  return (loaded ??= require('@aws-sdk/client-s3') as Sdk);
}
