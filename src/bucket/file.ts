/**
 * $CAIRN_HOME/buckets: every configured bucket, credentials included,
 * sealed with a key derived from the master key, so only the keyring's
 * holder can read it. Byte layout in docs/FORMAT.md ("Buckets file").
 * Updates are read-change-write under a lock file, written atomically.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthenticationError, NONCE_BYTES, deriveKey, open, randomNonce, seal } from '../crypto/index.js';
import { writeFileAtomic } from '../cluster/index.js';
import { CairnError } from '../errors/index.js';
import { LockTimeoutError, withLockFile } from '../store/index.js';
import { type BucketConfig, parseBucketName, parseEndpoint, parsePrefix, parseRegion, parseS3Bucket } from './config.js';

export const BUCKETS_MAGIC = 'CAIRNBKT';
export const BUCKETS_VERSION = 1;
const HEADER_BYTES = 8 + 1 + 3 + NONCE_BYTES;

export const bucketsPath = (home: string) => join(home, 'buckets');

/** The buckets file cannot be used: not one, another version, or sealed by another keyring. */
export class BucketsFileError extends CairnError {
  constructor(path: string, problem: string) {
    super('bucket.file', `${path} is not a usable buckets file: ${problem}`);
  }
}

interface StoredBucket {
  name: string;
  endpoint: string;
  bucket: string;
  region: string;
  prefix: string;
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  source: string;
  addedMs: number;
}

const fileKey = (masterKey: Uint8Array) => deriveKey(masterKey, 'cluster/buckets');

export function encodeBuckets(buckets: readonly BucketConfig[], masterKey: Uint8Array): Uint8Array {
  const stored: StoredBucket[] = buckets.map((b) => ({
    name: b.name,
    ...b.location,
    ...b.credentials,
    source: b.source,
    addedMs: b.addedMs,
  }));
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(BUCKETS_MAGIC, 0, 'latin1');
  header.writeUInt8(BUCKETS_VERSION, 8);
  header.set(randomNonce(), 12);
  const plaintext = new TextEncoder().encode(JSON.stringify({ buckets: stored }));
  return Buffer.concat([header, seal(fileKey(masterKey), header.subarray(12), plaintext, header)]);
}

/** `path` is only for messages. */
export function decodeBuckets(bytes: Uint8Array, masterKey: Uint8Array, path: string): BucketConfig[] {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (file.length < 9 || file.toString('latin1', 0, 8) !== BUCKETS_MAGIC) {
    throw new BucketsFileError(path, `it does not start with "${BUCKETS_MAGIC}"`);
  }
  const version = file.readUInt8(8);
  if (version !== BUCKETS_VERSION) {
    throw new BucketsFileError(path, `format version ${version}; this cairn reads version ${BUCKETS_VERSION}`);
  }
  if (file.length < HEADER_BYTES + 16) throw new BucketsFileError(path, `it is cut short at ${file.length} bytes`);
  if (file.readUIntLE(9, 3) !== 0) throw new BucketsFileError(path, 'its reserved bytes are not zero');
  const header = file.subarray(0, HEADER_BYTES);
  let plaintext: Uint8Array;
  try {
    plaintext = open(fileKey(masterKey), header.subarray(12), file.subarray(HEADER_BYTES), header);
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new BucketsFileError(path, 'it was sealed by another keyring, or altered');
    }
    throw error;
  }
  try {
    const { buckets } = JSON.parse(new TextDecoder().decode(plaintext)) as { buckets: StoredBucket[] };
    return buckets.map(fromStored);
  } catch (error) {
    throw new BucketsFileError(path, `its contents do not parse (${(error as Error).message})`);
  }
}

function fromStored(s: StoredBucket): BucketConfig {
  const text = (value: unknown, what: string) => {
    if (typeof value !== 'string' || value === '') throw new Error(`${what} is missing`);
    return value;
  };
  const credentials = { accessKeyId: text(s.accessKeyId, 'an access key'), secretAccessKey: text(s.secretAccessKey, 'a secret key') };
  return {
    name: parseBucketName(text(s.name, 'a name')),
    location: {
      endpoint: parseEndpoint(text(s.endpoint, 'an endpoint')),
      bucket: parseS3Bucket(text(s.bucket, 'a bucket')),
      region: parseRegion(text(s.region, 'a region')),
      prefix: parsePrefix(typeof s.prefix === 'string' ? s.prefix : ''),
      pathStyle: s.pathStyle === true,
    },
    credentials: s.sessionToken ? { ...credentials, sessionToken: s.sessionToken } : credentials,
    source: typeof s.source === 'string' ? s.source : '',
    addedMs: typeof s.addedMs === 'number' ? s.addedMs : 0,
  };
}

/** The configured buckets; none when the file does not exist yet. */
export async function readBuckets(home: string, masterKey: Uint8Array): Promise<BucketConfig[]> {
  const path = bucketsPath(home);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BucketsFileError(path, `it cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  return decodeBuckets(bytes, masterKey, path);
}

/** Read, change, write, with other cairn processes of this machine kept out meanwhile. */
export async function updateBuckets(
  home: string,
  masterKey: Uint8Array,
  change: (buckets: BucketConfig[]) => BucketConfig[],
): Promise<BucketConfig[]> {
  const path = bucketsPath(home);
  try {
    return await withLockFile(`${path}.lock`, { waitMs: 15_000, staleMs: 10_000 }, async () => {
      const next = change(await readBuckets(home, masterKey));
      await writeFileAtomic(path, encodeBuckets(next, masterKey));
      return next;
    });
  } catch (error) {
    if (error instanceof LockTimeoutError) throw new CairnError('bucket.busy', `another cairn is changing ${path}: ${error.message}`);
    throw error;
  }
}
