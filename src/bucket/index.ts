export {
  type BucketConfig,
  describeBucket,
  parseBucketName,
  parseEndpoint,
  parsePrefix,
  parseRegion,
  parseS3Bucket,
} from './config.js';
export { type CredentialFlags, type ResolvedCredentials, parseIni, resolveCredentials } from './credentials.js';
export { BUCKETS_MAGIC, BUCKETS_VERSION, BucketsFileError, bucketsPath, decodeBuckets, encodeBuckets, readBuckets, updateBuckets } from './file.js';
export { BucketCheckError, type CheckProblem, type CheckReport, MAX_CLOCK_SKEW_MS, checkBucket } from './check.js';
export { BucketProvider, UnknownBucketError } from './provider.js';
