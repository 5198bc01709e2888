/** hyperdht, on first use (repo/lazy.ts): a mount on local stores or buckets never dials a peer. */
import type DHT from 'hyperdht';
import { lazyRequire } from '../repo/index.js';

export const hyperdht = lazyRequire<typeof DHT>('hyperdht');
