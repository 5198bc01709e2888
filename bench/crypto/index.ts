/**
 * `cairn bench crypto`: XChaCha20-Poly1305 seal and open of 4 MiB messages,
 * ours (OpenSSL with an HChaCha20 subkey) against libsodium-wrappers.
 */
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { open, randomNonce, seal } from '../../src/crypto/index.js';
import { type CompareOptions, type Comparison, compare } from '../harness.js';

export interface CryptoRow extends Comparison {
  op: 'seal' | 'open';
}

export interface CryptoBenchOptions extends CompareOptions {
  messageSize?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export async function benchCrypto(options: CryptoBenchOptions = {}): Promise<CryptoRow[]> {
  await sodium.ready;
  const size = options.messageSize ?? 4 * 2 ** 20;
  const key = randomBytes(32);
  const nonce = randomNonce();
  const ad = randomBytes(32);
  const message = randomBytes(size);
  const sealed = seal(key, nonce, message, ad);

  options.onProgress?.(0, 2, 'seal');
  const sealRow = await compare(
    { run: () => seal(key, nonce, message, ad), bytes: size },
    { run: () => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, null, nonce, key), bytes: size },
    options,
  );
  options.onProgress?.(1, 2, 'open');
  const openRow = await compare(
    { run: () => open(key, nonce, sealed, ad), bytes: size },
    { run: () => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key), bytes: size },
    options,
  );
  options.onProgress?.(2, 2, 'done');
  return [
    { op: 'seal', ...sealRow },
    { op: 'open', ...openRow },
  ];
}
