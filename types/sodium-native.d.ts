// The part of sodium-native (libsodium's native binding) that Cairn calls.
declare module 'sodium-native' {
  /** Argon2id 1.3. */
  const crypto_pwhash_ALG_ARGON2ID13: number;
  /** libsodium's crypto_pwhash into `out`, on libuv's thread pool; the promise settles when done. */
  function crypto_pwhash_async(
    out: Uint8Array,
    passwd: Uint8Array,
    salt: Uint8Array,
    opslimit: number,
    memlimit: number,
    alg: number,
  ): Promise<void>;
  const sodium: { crypto_pwhash_ALG_ARGON2ID13: number; crypto_pwhash_async: typeof crypto_pwhash_async };
  export default sodium;
}
