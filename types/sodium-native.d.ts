// The part of sodium-native (libsodium's native binding) that Cairn calls.
declare module 'sodium-native' {
  interface Sodium {
    /** c = ciphertext || tag; c and m may be the same memory. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
    /** Fills `buf` with random bytes from the operating system's generator. */
    randombytes_buf(buf: Uint8Array): void;
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
