/**
 * hyperdht, loaded on first use rather than with the module graph: with the
 * AWS SDK it is most of a `cairn` process's JavaScript heap, and a mount on
 * local stores or buckets never dials a peer. The heap is what every major
 * garbage collection walks, and a busy mount runs one every few dozen MiB.
 */
import { createRequire } from 'node:module';
import type DHT from 'hyperdht';

const require = createRequire(import.meta.url);
let loaded: typeof DHT | undefined;

export function hyperdht(): typeof DHT {
  return (loaded ??= require('hyperdht') as typeof DHT);
}
