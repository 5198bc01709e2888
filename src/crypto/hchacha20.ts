/**
 * HChaCha20 (draft-irtf-cfrg-xchacha, section 2.2): 32-byte key and 16-byte
 * nonce in, 32-byte subkey out. It turns OpenSSL's ChaCha20-Poly1305 with a
 * 12-byte nonce into XChaCha20-Poly1305 with a 24-byte one, as libsodium does.
 * Runs once per message, so plain JS is fast enough.
 */

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] += s[b];
  s[d] ^= s[a];
  s[d] = (s[d] << 16) | (s[d] >>> 16);
  s[c] += s[d];
  s[b] ^= s[c];
  s[b] = (s[b] << 12) | (s[b] >>> 20);
  s[a] += s[b];
  s[d] ^= s[a];
  s[d] = (s[d] << 8) | (s[d] >>> 24);
  s[c] += s[d];
  s[b] ^= s[c];
  s[b] = (s[b] << 7) | (s[b] >>> 25);
}

export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const s = new Uint32Array(16);
  const k = new DataView(key.buffer, key.byteOffset, 32);
  const n = new DataView(nonce16.buffer, nonce16.byteOffset, 16);
  s.set(SIGMA);
  for (let i = 0; i < 8; i++) s[4 + i] = k.getUint32(i * 4, true);
  for (let i = 0; i < 4; i++) s[12 + i] = n.getUint32(i * 4, true);
  for (let i = 0; i < 10; i++) {
    quarter(s, 0, 4, 8, 12);
    quarter(s, 1, 5, 9, 13);
    quarter(s, 2, 6, 10, 14);
    quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15);
    quarter(s, 1, 6, 11, 12);
    quarter(s, 2, 7, 8, 13);
    quarter(s, 3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const o = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) {
    o.setUint32(i * 4, s[i], true);
    o.setUint32(16 + i * 4, s[12 + i], true);
  }
  return out;
}
