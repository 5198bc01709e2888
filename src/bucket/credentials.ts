/**
 * Where `cairn bucket add` reads a bucket's credentials: two named
 * environment variables, an AWS credentials file, or a profile of the
 * user's AWS credentials file. Never argv. The values are copied into the
 * sealed buckets file, so later changes to the source do not matter until
 * the bucket is added again (`--replace`).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';
import type { S3Credentials } from '../store/index.js';

export interface CredentialFlags {
  accessKeyEnv?: string;
  secretKeyEnv?: string;
  sessionTokenEnv?: string;
  credentialsFile?: string;
  profile?: string;
}

export interface ResolvedCredentials {
  credentials: S3Credentials;
  /** Where they came from, for `bucket ls`. */
  source: string;
}

const HOW =
  'give the credentials with --access-key-env VAR --secret-key-env VAR, --credentials-file FILE [--profile P], ' +
  'or --profile P (from ~/.aws/credentials or $AWS_SHARED_CREDENTIALS_FILE)';

export async function resolveCredentials(flags: CredentialFlags, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedCredentials> {
  const fromEnv = flags.accessKeyEnv !== undefined || flags.secretKeyEnv !== undefined || flags.sessionTokenEnv !== undefined;
  const fromFile = flags.credentialsFile !== undefined || flags.profile !== undefined;
  if (fromEnv && fromFile) throw new UsageError(`credentials come from environment variables or from a file, not both; ${HOW}`);
  if (fromEnv) return fromVariables(flags, env);
  if (fromFile) {
    const file = flags.credentialsFile ?? (env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), '.aws', 'credentials'));
    return fromIni(file, flags.profile ?? 'default');
  }
  throw new UsageError(`no credentials: ${HOW}`);
}

function fromVariables(flags: CredentialFlags, env: NodeJS.ProcessEnv): ResolvedCredentials {
  if (flags.accessKeyEnv === undefined || flags.secretKeyEnv === undefined) {
    throw new UsageError('--access-key-env and --secret-key-env go together: name the variable holding each key');
  }
  const read = (name: string, flag: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new UsageError(`${flag} names $${name}, which is not set`);
    return value;
  };
  const credentials: S3Credentials = {
    accessKeyId: read(flags.accessKeyEnv, '--access-key-env'),
    secretAccessKey: read(flags.secretKeyEnv, '--secret-key-env'),
  };
  if (flags.sessionTokenEnv !== undefined) credentials.sessionToken = read(flags.sessionTokenEnv, '--session-token-env');
  const names = [flags.accessKeyEnv, flags.secretKeyEnv, flags.sessionTokenEnv].filter((n) => n !== undefined).map((n) => `$${n}`);
  return { credentials, source: `environment ${names.join(', ')}` };
}

async function fromIni(file: string, profile: string): Promise<ResolvedCredentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the credentials file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const sections = parseIni(text);
  const section = sections.get(profile) ?? sections.get(`profile ${profile}`);
  if (section === undefined) {
    const known = [...sections.keys()].join(', ') || 'none';
    throw new UsageError(`no profile [${profile}] in ${file} (profiles there: ${known})`);
  }
  const accessKeyId = section.get('aws_access_key_id');
  const secretAccessKey = section.get('aws_secret_access_key');
  for (const [key, value] of [
    ['aws_access_key_id', accessKeyId],
    ['aws_secret_access_key', secretAccessKey],
  ] as const) {
    if (!value) throw new UsageError(`profile [${profile}] in ${file} has no ${key}`);
  }
  const credentials: S3Credentials = { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
  const token = section.get('aws_session_token');
  if (token) credentials.sessionToken = token;
  return { credentials, source: `file ${file}, profile ${profile}` };
}

/** The AWS credentials file: `[section]` lines, then `key = value` lines; `#` and `;` start comments. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && current) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}
