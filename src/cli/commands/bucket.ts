import type { Command } from 'commander';
import {
  type BucketConfig,
  type CredentialFlags,
  checkBucket,
  describeBucket,
  parseBucketName,
  parseEndpoint,
  parsePrefix,
  parseRegion,
  parseS3Bucket,
  readBuckets,
  resolveCredentials,
  updateBuckets,
} from '../../bucket/index.js';
import { parseBackendSpec } from '../../cluster/index.js';
import { CairnError, UsageError } from '../../errors/index.js';
import { asFlag } from '../parse.js';
import { type Session, withSession } from '../session.js';
import { printTable } from '../table.js';
import { commandGroup } from '../group.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';

async function configured(session: Session, name: string): Promise<BucketConfig> {
  const all = await readBuckets(session.home, session.masterKey);
  const found = all.find((b) => b.name === name);
  if (!found) {
    const known = all.map((b) => b.name).join(', ') || 'none';
    throw new CairnError('bucket.unknown', `no bucket named "${name}" (configured: ${known}); \`cairn bucket add\` adds one`);
  }
  return found;
}

/** Runs the checks, printing each one that passes unless the output is JSON. */
function check(config: BucketConfig, json: boolean | undefined) {
  return checkBucket(config, json ? undefined : (what) => process.stdout.write(`  ok  ${what}\n`));
}

interface AddFlags extends CredentialFlags {
  endpoint: string;
  bucket: string;
  region: string;
  prefix: string;
  pathStyle?: boolean;
  replace?: boolean;
  passphraseFile?: string;
  json?: boolean;
}

export function registerBucket(program: Command): void {
  const bucket = commandGroup(program, 'bucket', 'configure the S3 buckets volumes can live on (--backend bucket:NAME)');

  bucket
    .command('add <name>')
    .description('check a bucket and add it, credentials sealed in $CAIRN_HOME/buckets (never echoed)')
    .requiredOption('--endpoint <url>', 'the S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com', asFlag(parseEndpoint))
    .requiredOption('--bucket <bucket>', 'the S3 bucket', asFlag(parseS3Bucket))
    .option('--region <region>', 'the signing region', asFlag(parseRegion), 'us-east-1')
    .option('--prefix <prefix>', 'keep every object under this folder of the bucket', asFlag(parsePrefix), '')
    .option('--path-style', 'address the bucket as ENDPOINT/BUCKET (for most non-AWS servers)')
    .option('--access-key-env <var>', 'the environment variable holding the access key id')
    .option('--secret-key-env <var>', 'the environment variable holding the secret access key')
    .option('--session-token-env <var>', 'the environment variable holding a session token (temporary credentials)')
    .option('--credentials-file <file>', 'an AWS credentials file (ini) to read them from (profile: --profile, default "default")')
    .option('--profile <name>', 'a profile of the credentials file (default file: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)')
    .option('--replace', 'replace the bucket of that name (new endpoint or credentials) once the checks pass')
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print the result as JSON')
    .action(async (rawName: string, flags: AddFlags) => {
      const name = parseBucketName(rawName);
      const { credentials, source } = await resolveCredentials(flags);
      const config: BucketConfig = {
        name,
        location: { endpoint: flags.endpoint, bucket: flags.bucket, region: flags.region, prefix: flags.prefix, pathStyle: flags.pathStyle === true },
        credentials,
        source,
        addedMs: Date.now(),
      };
      const report = await withSession(flags, async (s) => {
        const taken = (await readBuckets(s.home, s.masterKey)).some((b) => b.name === name);
        if (taken && !flags.replace) throw new UsageError(`a bucket named "${name}" is configured already: pass --replace to replace it`);
        if (!flags.json) process.stdout.write(`Checking bucket ${name} (${config.location.bucket} at ${config.location.endpoint})\n`);
        const passed = await check(config, flags.json);
        await updateBuckets(s.home, s.masterKey, (all) => {
          if (!flags.replace && all.some((b) => b.name === name)) throw new UsageError(`a bucket named "${name}" was just added by another cairn`);
          return [...all.filter((b) => b.name !== name), config];
        });
        return passed;
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...describeBucket(config), checks: report.passed, conditional_writes: report.conditionalWrites })}\n`);
        return;
      }
      process.stdout.write(`${flags.replace ? 'Replaced' : 'Added'} bucket ${name}: volumes can live on it with --backend bucket:${name}\n`);
    });

  bucket
    .command('ls')
    .description('list the configured buckets (secrets are never shown)')
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print a JSON array')
    .action(async (flags: { passphraseFile?: string; json?: boolean }) => {
      const all = await withSession(flags, (s) => readBuckets(s.home, s.masterKey));
      const rows = all.map(describeBucket);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('No buckets yet: `cairn bucket add NAME --endpoint URL --bucket B …`\n');
        return;
      }
      printTable(
        ['name', 'endpoint', 'bucket', 'region', 'prefix', 'access key', 'credentials from'],
        rows.map((r) => [r.name, r.endpoint, r.bucket, r.region, r.prefix || '-', r.access_key, r.credentials_from]),
      );
    });

  bucket
    .command('test <name>')
    .description('run the checks of `bucket add` again: reachable, credentials, bucket, clock, put/get/list/delete')
    .option(...PASSPHRASE_OPTION)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, flags: { passphraseFile?: string; json?: boolean }) => {
      const { config, report } = await withSession(flags, async (s) => {
        const found = await configured(s, parseBucketName(name));
        if (!flags.json) process.stdout.write(`Checking bucket ${name} (${found.location.bucket} at ${found.location.endpoint})\n`);
        return { config: found, report: await check(found, flags.json) };
      });
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ name: config.name, ok: true, checks: report.passed, clock_skew_ms: report.clockSkewMs, conditional_writes: report.conditionalWrites })}\n`,
        );
        return;
      }
      process.stdout.write(`Bucket ${name} is ready for volumes\n`);
    });

  bucket
    .command('rm <name>')
    .description('forget a bucket (its objects stay in it); refused while volumes live on it')
    .option('--force', 'forget it even though volumes live on it (they cannot be mounted until it is added again)')
    .option(...PASSPHRASE_OPTION)
    .action(async (name: string, flags: { force?: boolean; passphraseFile?: string }) => {
      await withSession(flags, async (s) => {
        await configured(s, parseBucketName(name));
        if (!flags.force) {
          const { entries, unreachable } = await s.catalogs.list();
          const using = entries.filter((e) => {
            const spec = parseBackendSpec(e.backend);
            return spec.kind === 'bucket' && spec.buckets.includes(name);
          });
          if (using.length > 0) {
            throw new UsageError(`volumes live on bucket ${name}: ${using.map((e) => e.name).join(', ')}; remove them first, or pass --force`);
          }
          const blind = unreachable.find((u) => u.home === `bucket:${name}`);
          if (blind) {
            throw new UsageError(`cannot tell which volumes live on bucket ${name}: its catalog is unreachable (${blind.error.message}); pass --force to remove it anyway`);
          }
        }
        await updateBuckets(s.home, s.masterKey, (all) => all.filter((b) => b.name !== name));
      });
      process.stdout.write(`Removed bucket ${name} from this machine (its objects stay in the bucket)\n`);
    });
}
