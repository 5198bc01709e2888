// One s3rver in its own process, bound to 127.0.0.1, for the bucket tests and
// `cairn bench pipeline --backend bucket`. Its configuration comes as JSON in
// $S3RVER_CONFIG (credentials included, so they never show in argv):
//
//   directory        where s3rver keeps the buckets (reused across restarts)
//   port             0 for a free port (the default); a restart passes the old one
//   buckets          bucket names to create
//   accounts         [{ accessKeyId, secretAccessKey, deny?: ['PUT', 'DELETE', …] }]
//                    replace s3rver's built-in S3RVER/S3RVER account; `deny`
//                    answers those methods with AccessDenied, as an IAM policy would
//   atomicPuts       write each object whole (temp file, rename) before answering, as S3
//                    does; s3rver 3.7 writes in place and answers before its write is done
//   conditional      honour If-Match / If-None-Match on PUT, as AWS S3, MinIO and R2 do
//                    (s3rver 3.7 ignores them); implies atomicPuts, without which a
//                    compare-and-set could be undone by a late write
//   clockOffsetMs    run the server's clock this far off: its Date header, and
//                    RequestTimeTooSkewed beyond 15 minutes as S3 does
//   failEvery        also listen on a second port that forwards to s3rver but
//                    answers HTTP 500 InternalError to the 1st, N+1th, 2N+1th… request
//                    for the same method and URL (so a retried request gets through,
//                    whatever else runs at the same time)
//   tls              { key, cert } file paths: serve HTTPS
//
// GET /_test/inflight answers {"max": N}, the most requests served at once
// since the last such GET.
//
// s3rver checks only that a v4 signature's access key exists, not the
// signature; this script checks the signature too (AWS's SigV4 algorithm),
// so a wrong secret key is refused as by S3.
//
// Prints one JSON line {"port", "flakyPort"?} on stdout once listening; exits on
// SIGTERM, or when its stdin closes (the process that started it is gone).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname } from 'node:path';
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';
import S3Error from 's3rver/lib/models/error.js';

const config = JSON.parse(process.env.S3RVER_CONFIG ?? '{}');
const accounts = new Map((config.accounts ?? []).map((a) => [a.accessKeyId, a]));
const offset = config.clockOffsetMs ?? 0;

const server = new S3rver({
  address: '127.0.0.1',
  port: config.port ?? 0,
  silent: true,
  directory: config.directory,
  configureBuckets: (config.buckets ?? []).map((name) => ({ name })),
  ...(config.tls ? { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.cert) } : {}),
});

if (accounts.size > 0) {
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  for (const a of accounts.values()) AWSAccount.DUMMY_ACCOUNT.createKeyPair(a.accessKeyId, a.secretAccessKey);
}

const hmac = (key, text) => createHmac('sha256', key).update(text).digest();
const rfc3986 = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The SigV4 signature of the request with `secret`, as S3 computes it (no path normalisation). */
function signature(req, secret, signedHeaders, scope, amzDate) {
  const [path, rawQuery = ''] = req.url.split('?');
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [k, v = ''] = pair.split('=');
      return [rfc3986(decodeURIComponent(k.replace(/\+/g, ' '))), rfc3986(decodeURIComponent(v.replace(/\+/g, ' ')))];
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders.map((name) => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, path, query, headers, signedHeaders.join(';'), req.headers['x-amz-content-sha256']].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope.join('/'), createHash('sha256').update(canonical).digest('hex')].join('\n');
  const [date, region, service] = scope;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return hmac(key, toSign);
}

const parseAmzDate = (text) => Date.parse(text.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

/** Requests being served now, and the most at once: how tests see a client's concurrency bound. */
let inflight = 0;
let maxInflight = 0;

async function checks(ctx, next) {
  if (ctx.path === '/_test/inflight') {
    ctx.body = JSON.stringify({ max: maxInflight });
    maxInflight = 0;
    return;
  }
  inflight++;
  maxInflight = Math.max(maxInflight, inflight);
  try {
    await admit(ctx, next);
  } finally {
    inflight--;
  }
}

async function admit(ctx, next) {
  if (offset !== 0) ctx.set('Date', new Date(Date.now() + offset).toUTCString());
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    ctx.get('authorization'),
  );
  const account = auth && accounts.get(auth[1]);
  if (account) {
    const amzDate = ctx.get('x-amz-date');
    if (Math.abs(parseAmzDate(amzDate) - (Date.now() + offset)) > 15 * 60_000) {
      throw new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
    }
    const given = Buffer.from(auth[4], 'hex');
    const expected = signature(ctx.req, account.secretAccessKey, auth[3].split(';'), auth[2].split('/'), amzDate);
    if (!timingSafeEqual(given, expected)) {
      throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    if ((account.deny ?? []).includes(ctx.method)) throw new S3Error('AccessDenied', 'Access Denied');
  }
  if (config.conditional && ctx.method === 'PUT') return conditionalPut(ctx, next);
  return next();
}

/** If-Match / If-None-Match on object PUTs, checked and applied one request at a time per key. */
const keyLocks = new Map();
async function conditionalPut(ctx, next) {
  const ifMatch = ctx.get('if-match');
  const ifNoneMatch = ctx.get('if-none-match');
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  if ((!ifMatch && !ifNoneMatch) || !key) return next();
  const id = `${bucket}/${key}`;
  const before = keyLocks.get(id) ?? Promise.resolve();
  let release;
  const mine = new Promise((resolve) => (release = resolve));
  keyLocks.set(id, before.then(() => mine));
  await before;
  try {
    const current = await server.store.getMetadata(bucket, key).then(
      (m) => m.etag,
      () => undefined,
    );
    if ((ifNoneMatch === '*' && current !== undefined) || (ifMatch && ifMatch !== current)) {
      ctx.req.resume();
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }
    await next();
  } finally {
    release();
    if (keyLocks.get(id) === mine) keyLocks.delete(id);
  }
}

// s3rver 3.7 removes a directory its delete left empty, racing a put of a key
// under the same prefix between its mkdir and its open: the put's unhandled
// ENOENT ends the whole server (seen in CI with lease records deleted and
// claimed at once). S3 has no directories; leaving empty ones behind changes
// no listing.
server.store.deleteObject = async (bucket, key) => {
  await Promise.all(
    ['object', 'object.md5', 'metadata.json'].map((resource) =>
      unlink(server.store.getResourcePath(bucket, key, resource)).catch((err) => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
};

if (config.atomicPuts || config.conditional) {
  // Whole objects replace each other by rename, and the answer waits for it.
  server.store.putObject = async (object) => {
    const chunks = [];
    for await (const chunk of object.content) chunks.push(chunk);
    const content = Buffer.concat(chunks);
    const path = server.store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, content);
    await rename(temp, path);
    // After the content: a reader between the two sees the new bytes with the old ETag, so its compare-and-set fails safely.
    const md5 = createHash('md5').update(content).digest('hex');
    await server.store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
}

// Before s3rver's router (its last middleware), after its logger and XML rendering.
server.middleware.splice(server.middleware.length - 1, 0, checks);

const { port } = await server.run();
const out = { port };

let flaky;
if (config.failEvery) {
  const counts = new Map();
  flaky = http.createServer((req, res) => {
    const id = `${req.method} ${req.url}`;
    const count = (counts.get(id) ?? 0) + 1;
    counts.set(id, count);
    if ((count - 1) % config.failEvery === 0) {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>injected</Message></Error>');
      });
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise((resolve) => flaky.listen(config.flakyPort ?? 0, '127.0.0.1', resolve));
  out.flakyPort = flaky.address().port;
}

process.stdout.write(`${JSON.stringify(out)}\n`);
// The parent holds our stdin open: when it goes, even by a crash, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => {
  // Idle keep-alive connections would hold close() open for seconds.
  setTimeout(() => process.exit(0), 2000).unref();
  flaky?.closeAllConnections();
  flaky?.close();
  server.httpServer?.closeAllConnections?.();
  server.close().then(() => process.exit(0));
});
