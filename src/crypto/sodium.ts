/**
 * libsodium's native build (sodium-native), loaded on first use: its
 * JavaScript wrapper is over a megabyte of heap, which the stripe workers
 * (they never call it) should not carry, nor any command that never seals a
 * journal record or unlocks a keyring.
 */
import { createRequire } from 'node:module';
import type Sodium from 'sodium-native';

const require = createRequire(import.meta.url);
let loaded: typeof Sodium | undefined;

export function sodium(): typeof Sodium {
  return (loaded ??= require('sodium-native') as typeof Sodium);
}
