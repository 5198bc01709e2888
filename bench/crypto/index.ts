/**
 * `cairn bench crypto`: XChaCha20-Poly1305 seal and open of 4 MiB messages,
 * ours (OpenSSL with an HChaCha20 subkey) against libsodium-wrappers, each
 * the fastest way its API allows: ours into an output buffer allocated once
 * (as the stripe code uses it), libsodium-wrappers returning a new array,
 * which is the only way it has.
 */
import { randomBytes } from 'node:crypto';
import { TAG_BYTES, openInto, randomNonce, seal, sealInto } from '../../src/crypto/index.js';
import { type CompareOptions, type Comparison, compare } from '../harness.js';

export interface CryptoRow extends Comparison {
  op: 'seal' | 'open';
}

export interface CryptoBenchOptions extends CompareOptions {
  messageSize?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export async function benchCrypto(options: CryptoBenchOptions = {}): Promise<CryptoRow[]> {
  // Loaded here, not with the module graph: every `cairn` command imports the bench commands.
  const { default: sodium } = await import('libsodium-wrappers');
  await sodium.ready;
  const size = options.messageSize ?? 4 * 2 ** 20;
  const key = randomBytes(32);
  const nonce = randomNonce();
  const ad = randomBytes(32);
  const message = randomBytes(size);
  const sealed = seal(key, nonce, message, ad);
  const sealedOut = new Uint8Array(size + TAG_BYTES);
  const openedOut = new Uint8Array(size);
  const ciphertext = [sealed.subarray(0, size)];
  const tag = sealed.subarray(size);

  options.onProgress?.(0, 2, 'seal');
  const sealRow = await compare(
    { run: () => sealInto(key, nonce, message, ad, sealedOut), bytes: size },
    { run: () => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, null, nonce, key), bytes: size },
    options,
  );
  options.onProgress?.(1, 2, 'open');
  const openRow = await compare(
    { run: () => openInto(key, nonce, ciphertext, tag, ad, openedOut), bytes: size },
    { run: () => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key), bytes: size },
    options,
  );
  if (Buffer.compare(openedOut, message) !== 0) throw new Error('our open returned wrong bytes');
  options.onProgress?.(2, 2, 'done');
  return [
    { op: 'seal', ...sealRow },
    { op: 'open', ...openRow },
  ];
}
