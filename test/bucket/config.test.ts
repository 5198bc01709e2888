import { describe, expect, it } from 'vitest';
import {
  type BucketConfig,
  BucketsFileError,
  decodeBuckets,
  encodeBuckets,
  parseEndpoint,
  parseIni,
  parsePrefix,
  resolveCredentials,
} from '../../src/bucket/index.js';
import { newKey } from '../../src/crypto/index.js';
import { UsageError } from '../../src/errors/index.js';

const bucket = (name: string, secret = 'very-secret-key'): BucketConfig => ({
  name,
  location: { endpoint: 'https://s3.example.test', region: 'eu-central-1', bucket: 'data-1', prefix: 'cairn/', pathStyle: false },
  credentials: { accessKeyId: 'AKIDEXAMPLE1234', secretAccessKey: secret, sessionToken: 'token-xyz' },
  source: 'environment $A, $B',
  addedMs: 1_700_000_000_000,
});

describe('the buckets file', () => {
  const master = newKey();

  it('round-trips every field, sealed: no secret, key or endpoint in the bytes, a new nonce each time', () => {
    const list = [bucket('one'), { ...bucket('two'), credentials: { accessKeyId: 'AKID2', secretAccessKey: 's2' } }];
    const bytes = encodeBuckets(list, master);
    expect(decodeBuckets(bytes, master, 'f')).toEqual(list);
    const text = Buffer.from(bytes);
    expect(text.subarray(0, 8).toString('latin1')).toBe('CAIRNBKT');
    expect(text[8]).toBe(1);
    expect([...text.subarray(9, 12)]).toEqual([0, 0, 0]);
    for (const plain of ['very-secret-key', 'AKIDEXAMPLE1234', 'token-xyz', 's3.example.test', 'data-1']) {
      expect(text.includes(plain)).toBe(false);
    }
    // 36-byte header, then the JSON sealed with its 16-byte tag.
    const json = JSON.stringify({ buckets: list.map((b) => ({ name: b.name, ...b.location, ...b.credentials, source: b.source, addedMs: b.addedMs })) });
    expect(bytes.length).toBe(36 + Buffer.byteLength(json) + 16);
    expect(Buffer.compare(encodeBuckets(list, master).subarray(12, 36), text.subarray(12, 36))).not.toBe(0);
    expect(decodeBuckets(encodeBuckets([], master), master, 'f')).toEqual([]);
  });

  it('refuses another keyring, any altered byte, another version, a short file and non-zero reserved bytes', () => {
    const bytes = encodeBuckets([bucket('one')], master);
    const refused = (b: Uint8Array, key = master) => {
      try {
        decodeBuckets(b, key, '/home/u/.cairn/buckets');
      } catch (error) {
        expect(error).toBeInstanceOf(BucketsFileError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused(bytes, newKey())).toBe('/home/u/.cairn/buckets is not a usable buckets file: it was sealed by another keyring, or altered');
    for (const at of [0, 8, 9, 12, 35, 36, bytes.length - 1]) {
      const altered = Uint8Array.from(bytes);
      altered[at] ^= 0x01;
      expect(refused(altered)).toMatch(/CAIRNBKT|version|reserved|another keyring, or altered/);
    }
    const v2 = Uint8Array.from(bytes);
    v2[8] = 2;
    expect(refused(v2)).toMatch(/format version 2; this cairn reads version 1/);
    expect(refused(bytes.subarray(0, 40))).toMatch(/cut short at 40 bytes/);
    expect(refused(new TextEncoder().encode('not a buckets file'))).toMatch(/does not start with "CAIRNBKT"/);
  });
});

describe('bucket settings', () => {
  it('normalise the endpoint and prefix, refuse what cannot be right', () => {
    expect(parseEndpoint('https://s3.example.test/')).toBe('https://s3.example.test');
    expect(parseEndpoint('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000');
    expect(parsePrefix('')).toBe('');
    expect(parsePrefix('/team/a/')).toBe('team/a/');
    expect(parsePrefix('x')).toBe('x/');
    for (const bad of ['a//b', '../x', 'a b', 'ü']) expect(() => parsePrefix(bad)).toThrow(UsageError);
    for (const bad of ['s3.example.test', 'https://k:s@h', 'https://h/?x=1']) expect(() => parseEndpoint(bad)).toThrow(UsageError);
  });

  it('read the AWS credentials file format', () => {
    const ini = parseIni('; c\n# c\n[default]\naws_access_key_id=A\n  AWS_Secret_Access_Key =  B = C  \n[profile work]\nx=1\n');
    expect(ini.get('default')).toEqual(new Map([['aws_access_key_id', 'A'], ['aws_secret_access_key', 'B = C']]));
    expect(ini.get('profile work')).toEqual(new Map([['x', '1']]));
  });

  it('take credentials from named variables only when both are set', async () => {
    const env = { K: 'key', S: 'secret', T: 'token' };
    expect(await resolveCredentials({ accessKeyEnv: 'K', secretKeyEnv: 'S', sessionTokenEnv: 'T' }, env)).toEqual({
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret', sessionToken: 'token' },
      source: 'environment $K, $S, $T',
    });
    await expect(resolveCredentials({ accessKeyEnv: 'K', secretKeyEnv: 'MISSING' }, env)).rejects.toThrow(/\$MISSING, which is not set/);
    await expect(resolveCredentials({}, env)).rejects.toThrow(/no credentials/);
  });
});
