/**
 * The live run's dataset: files of seeded random bytes whose SHA-256 is known
 * before they are written, and the check that reads them back through a
 * mount, counting what could not be read and what read wrong.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface DatasetFile {
  name: string;
  size: number;
  sha256: string;
}

export interface Dataset {
  seed: number;
  files: DatasetFile[];
  bytes: number;
}

export interface Verification {
  /** Bytes that read back as written (in a file that hashes to its SHA-256 when it read in full). */
  verified: number;
  /** Bytes whose read failed (EIO, or no mount to read them through). */
  unreadable: number;
  /** Bytes that read back different from what was written: the one outcome that must never happen. */
  wrong: number;
}

const MAX_FILES = 8;
const MIN_FILE = 512 * 1024;
/** Reads go through the mount in pieces of this size (a multiple of 16); an unreadable piece counts whole. */
const READ_CHUNK = 1024 * 1024;

/**
 * Up to eight files of different sizes (1, 2, 3 … parts), so most end
 * inside a block rather than on its boundary. They add up to `size`.
 */
export function datasetSizes(size: number): number[] {
  const count = Math.max(1, Math.min(MAX_FILES, Math.floor(size / MIN_FILE)));
  const parts = (count * (count + 1)) / 2;
  const sizes = Array.from({ length: count }, (_, i) => Math.floor((size * (i + 1)) / parts));
  sizes[count - 1] += size - sizes.reduce((a, b) => a + b, 0);
  return sizes;
}

/**
 * File `file`'s bytes from `offset` (a multiple of 16): an AES-256-CTR
 * keystream under a key from the seed, so any piece can be produced again to
 * compare with what a read returned, at gigabytes a second.
 */
function keystream(seed: number, file: number, offset = 0) {
  const key = createHash('sha256').update(`cairn live dataset ${seed}`).digest();
  const counter = Buffer.alloc(16);
  counter.writeUInt32BE(file, 0);
  counter.writeBigUInt64BE(BigInt(offset / 16), 8);
  return createCipheriv('aes-256-ctr', key, counter);
}

/** Writes the files into `dir` (plain local files, copied into the volume later). */
export async function writeDataset(dir: string, size: number, seed: number): Promise<Dataset> {
  const files: DatasetFile[] = [];
  for (const [i, fileSize] of datasetSizes(size).entries()) {
    const name = `file-${String(i + 1).padStart(2, '0')}.bin`;
    const stream = keystream(seed, i);
    const hash = createHash('sha256');
    const zeros = Buffer.alloc(READ_CHUNK);
    const fh = await open(join(dir, name), 'w');
    try {
      for (let done = 0; done < fileSize; ) {
        const n = Math.min(READ_CHUNK, fileSize - done);
        const bytes = stream.update(zeros.subarray(0, n));
        hash.update(bytes);
        await fh.write(bytes);
        done += n;
      }
    } finally {
      await fh.close();
    }
    files.push({ name, size: fileSize, sha256: hash.digest('hex') });
  }
  return { seed, files, bytes: files.reduce((a, f) => a + f.size, 0) };
}

/**
 * Reads every file under `dir` (a mount) piece by piece, carrying on past a
 * piece that fails, and compares each piece with the bytes written there; a
 * file that read in full must also hash to its SHA-256.
 */
export async function verifyDataset(dir: string, dataset: Dataset, files = dataset.files): Promise<Verification> {
  const result: Verification = { verified: 0, unreadable: 0, wrong: 0 };
  const buffer = Buffer.alloc(READ_CHUNK);
  const zeros = Buffer.alloc(READ_CHUNK);
  for (const file of files) {
    const index = dataset.files.indexOf(file);
    let fh;
    try {
      fh = await open(join(dir, file.name), 'r');
    } catch {
      result.unreadable += file.size;
      continue;
    }
    try {
      const hash = createHash('sha256');
      const tally: Verification = { verified: 0, unreadable: 0, wrong: 0 };
      for (let offset = 0; offset < file.size; offset += READ_CHUNK) {
        const want = Math.min(READ_CHUNK, file.size - offset);
        let got: Buffer;
        try {
          const { bytesRead } = await fh.read(buffer, 0, want, offset);
          if (bytesRead !== want) throw new Error('short read');
          got = buffer.subarray(0, want);
        } catch {
          tally.unreadable += want;
          continue;
        }
        hash.update(got);
        const expected = keystream(dataset.seed, index, offset).update(zeros.subarray(0, want));
        if (expected.equals(got)) tally.verified += want;
        else tally.wrong += want;
      }
      if (tally.unreadable === 0 && tally.wrong === 0 && hash.digest('hex') !== file.sha256) {
        tally.wrong = tally.verified;
        tally.verified = 0;
      }
      result.verified += tally.verified;
      result.unreadable += tally.unreadable;
      result.wrong += tally.wrong;
    } finally {
      await fh.close();
    }
  }
  return result;
}
