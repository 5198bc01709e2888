/**
 * A configured bucket: where it is, how to address it and the credentials
 * for it, under the name volumes use (`--backend bucket:NAME`). Every field
 * is checked here, before anything is stored or sent.
 */
import type { S3Credentials, S3Location } from '../store/index.js';
import { UsageError } from '../errors/index.js';

export interface BucketConfig {
  /** Cairn's name for it: the store id is `bucket:<name>`. */
  name: string;
  location: S3Location;
  credentials: S3Credentials;
  /** Where the credentials were read from when it was added (for `bucket ls`; never the secret). */
  source: string;
  addedMs: number;
}

/** Same rule as a bucket name in `--backend bucket:NAME` (src/cluster/backends.ts). */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** S3's rule for bucket names (the common subset every provider accepts). */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PREFIX_PART = /^[A-Za-z0-9._-]+$/;

export function parseBucketName(text: string): string {
  if (!NAME.test(text)) throw new UsageError(`"${text}" is not a bucket name for cairn: 1-63 of a-z 0-9 -, starting with a letter or digit`);
  return text;
}

export function parseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--endpoint "${text}" is not a URL; give e.g. https://s3.eu-west-1.amazonaws.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`--endpoint must be an http:// or https:// URL, not ${url.protocol}`);
  }
  // Credentials in a URL would sit in argv and in the configuration's plain fields.
  if (url.username !== '' || url.password !== '') {
    throw new UsageError('--endpoint must not hold credentials; give them with --access-key-env/--secret-key-env, --credentials-file or --profile');
  }
  if (url.search !== '' || url.hash !== '') throw new UsageError(`--endpoint must not have a query or fragment: ${text}`);
  return url.href.replace(/\/$/, '');
}

export function parseS3Bucket(text: string): string {
  if (!S3_BUCKET.test(text) || text.includes('..')) {
    throw new UsageError(`--bucket "${text}" is not an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit`);
  }
  return text;
}

export function parseRegion(text: string): string {
  if (!REGION.test(text)) throw new UsageError(`--region "${text}" is not a region name (e.g. us-east-1, eu-central-1, auto)`);
  return text;
}

/** '' or parts of A-Z a-z 0-9 . _ - joined by '/', ending in '/': the folder every object goes under. */
export function parsePrefix(text: string): string {
  const trimmed = text.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const parts = trimmed.split('/');
  if (parts.some((p) => !PREFIX_PART.test(p) || p === '.' || p === '..')) {
    throw new UsageError(`--prefix "${text}" must be folder names of A-Z a-z 0-9 . _ - separated by /`);
  }
  return `${parts.join('/')}/`;
}

/** A bucket's configuration as `bucket ls` shows it: no secret, and only the end of the access key. */
export function describeBucket(config: BucketConfig) {
  const { location } = config;
  return {
    name: config.name,
    endpoint: location.endpoint,
    bucket: location.bucket,
    region: location.region,
    prefix: location.prefix,
    path_style: location.pathStyle,
    access_key: `…${config.credentials.accessKeyId.slice(-4)}`,
    credentials_from: config.source,
    added: new Date(config.addedMs).toISOString(),
  };
}
