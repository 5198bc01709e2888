/**
 * libsodium's native build (sodium-native), on first use (repo/lazy.ts): its
 * JavaScript wrapper is over a megabyte of heap, which the stripe workers
 * (they never call it) should not carry, nor any command that never seals a
 * journal record or unlocks a keyring.
 */
import type Sodium from 'sodium-native';
import { lazyRequire } from '../repo/index.js';

export const sodium = lazyRequire<typeof Sodium>('sodium-native');
