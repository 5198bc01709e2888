/**
 * The volume head: {volume id, epoch, seq, root}, signed with the volume's
 * head-signing key. The root (where the metadata checkpoint and journal
 * segments are) is encrypted; epoch and seq stay readable so stores can
 * fence old writers without any key. Bytes in docs/FORMAT.md ("Volume head").
 */
import { NONCE_BYTES, SIGNATURE_BYTES, type VolumeKeys, open, randomNonce, seal, verifySignature } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';

const MAGIC = 'CAIRNHD';
export const HEAD_VERSION = 1;
const FIXED = 7 + 1 + 16 + 8 + 8 + NONCE_BYTES + 4;
const AD = new TextEncoder().encode('cairn-head-root');

export class HeadError extends CairnError {
  constructor(message: string) {
    super('volume.bad-head', message);
  }
}

export interface Head {
  volumeId: Uint8Array;
  epoch: number;
  seq: number;
  root: Uint8Array;
}

export function encodeHead(head: Head, keys: VolumeKeys): Uint8Array {
  const nonce = randomNonce();
  const sealed = seal(keys.encryption, nonce, head.root, Buffer.concat([AD, head.volumeId]));
  const b = Buffer.alloc(FIXED + sealed.length);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt8(HEAD_VERSION, 7);
  b.set(head.volumeId, 8);
  b.writeBigUInt64LE(BigInt(head.epoch), 24);
  b.writeBigUInt64LE(BigInt(head.seq), 32);
  b.set(nonce, 40);
  b.writeUInt32LE(sealed.length, 40 + NONCE_BYTES);
  b.set(sealed, FIXED);
  return Buffer.concat([b, keys.headSigning.sign(b)]);
}

/** Checks the signature (with this volume's key) and opens the root; a forged or altered head is a HeadError. */
export function decodeHead(bytes: Uint8Array, keys: VolumeKeys, expectedVolumeId: Uint8Array): Head {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length < FIXED + SIGNATURE_BYTES || b.toString('latin1', 0, 7) !== MAGIC) throw new HeadError('not a volume head');
  if (b.readUInt8(7) !== HEAD_VERSION) throw new HeadError(`head format version ${b.readUInt8(7)} is unknown`);
  const signed = b.subarray(0, b.length - SIGNATURE_BYTES);
  if (!verifySignature(keys.headSigning.publicKey, signed, b.subarray(b.length - SIGNATURE_BYTES))) {
    throw new HeadError('head signature does not verify: forged, altered, or another volume');
  }
  const volumeId = new Uint8Array(b.subarray(8, 24));
  if (Buffer.compare(volumeId, expectedVolumeId) !== 0) throw new HeadError('head belongs to another volume');
  const length = b.readUInt32LE(40 + NONCE_BYTES);
  if (FIXED + length !== signed.length) throw new HeadError('head length mismatch');
  const root = open(
    keys.encryption,
    b.subarray(40, 40 + NONCE_BYTES),
    b.subarray(FIXED, FIXED + length),
    Buffer.concat([AD, volumeId]),
    'volume head',
  );
  return { volumeId, epoch: Number(b.readBigUInt64LE(24)), seq: Number(b.readBigUInt64LE(32)), root };
}
