// The part of sodium-native (libsodium's native binding) that Cairn calls.
declare module 'sodium-native' {
  interface Sodium {
    /** Argon2id 1.3. */
    readonly crypto_pwhash_ALG_ARGON2ID13: number;
    /** libsodium's crypto_pwhash into `out`, on libuv's thread pool; the promise settles when done. */
    crypto_pwhash_async(
      out: Uint8Array,
      passwd: Uint8Array,
      salt: Uint8Array,
      opslimit: number,
      memlimit: number,
      alg: number,
    ): Promise<void>;
  }
  const sodium: Sodium;
  export default sodium;
}
