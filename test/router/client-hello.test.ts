import { createServer } from 'node:net';
import { type ConnectionOptions, connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  Alert,
  ClientHelloReader,
  type HelloResult,
  MAX_HELLO,
  alertRecord,
} from '../../src/router/client-hello.js';
import { TEST_SEED, randomInt, rng } from '../helpers/random.js';

/** The first TLS record a real Node TLS client sends with these options, captured on a loopback socket. */
async function captureHello(options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => {
          bytes = Buffer.concat([bytes, d]);
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
            socket.destroy();
            resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
          }
        });
      });
      const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      client.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello')), 5_000).unref();
    });
  } finally {
    server.close();
  }
}

function feed(chunks: Buffer[]): HelloResult[] {
  const reader = new ClientHelloReader();
  return chunks.map((c) => reader.push(c));
}

/** The handshake message of a one-record ClientHello, cut into records of `size` bytes. */
function refragment(record: Buffer, size: number): Buffer {
  const handshake = record.subarray(5);
  const out: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += size) {
    const part = handshake.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    out.push(header, part);
  }
  return Buffer.concat(out);
}

/** A well-framed ClientHello record whose body is `body` (for hand-made malformed hellos). */
function helloRecord(body: Buffer, type = 1): Buffer {
  const hs = Buffer.concat([Buffer.from([type, 0, 0, 0]), body]);
  hs.writeUIntBE(body.length, 1, 3);
  const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
  header.writeUInt16BE(hs.length, 3);
  return Buffer.concat([header, hs]);
}

/** A minimal ClientHello body: version, random, session id, one suite, null compression, then `extensions`. */
function body(extensions?: Buffer, sessionIdLength = 0): Buffer {
  const parts: Buffer[] = [
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([sessionIdLength]),
    Buffer.alloc(sessionIdLength),
    Buffer.from([0, 2, 0x13, 0x01, 1, 0]),
  ];
  if (extensions) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(extensions.length);
    parts.push(len, extensions);
  }
  return Buffer.concat(parts);
}

function sniExtension(name: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const ext = Buffer.alloc(4 + 5 + n.length);
  ext.writeUInt16BE(0, 0);
  ext.writeUInt16BE(5 + n.length, 2);
  ext.writeUInt16BE(3 + n.length, 4);
  ext[6] = 0;
  ext.writeUInt16BE(n.length, 7);
  n.copy(ext, 9);
  return ext;
}

describe('ClientHello reader', () => {
  it('finds the SNI of real TLS 1.3 and TLS 1.2 ClientHellos', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const hello = await captureHello({ servername: 'web-a1b2c3.z1.cairn.test', maxVersion });
      const [result] = feed([hello]);
      expect(result).toMatchObject({ kind: 'hello', sni: 'web-a1b2c3.z1.cairn.test' });
      if (result.kind === 'hello') expect(result.bytes.equals(hello)).toBe(true);
    }
  });

  it('reports no SNI when the client sends none, and lowercases names', async () => {
    const none = await captureHello({ servername: '' });
    expect(feed([none])).toEqual([{ kind: 'hello', sni: undefined, bytes: none }]);
    const upper = await captureHello({ servername: 'API-X1.Z1.Cairn.TEST' });
    expect(feed([upper])[0]).toMatchObject({ kind: 'hello', sni: 'api-x1.z1.cairn.test' });
  });

  it('waits for more bytes until the whole ClientHello is in, however it is split', async () => {
    const hello = await captureHello({ servername: 'a-1.z.example.org' });
    const bytes = [...hello].map((b) => Buffer.from([b]));
    const results = feed(bytes);
    expect(results.slice(0, -1).every((r) => r.kind === 'more')).toBe(true);
    expect(results.at(-1)).toMatchObject({ kind: 'hello', sni: 'a-1.z.example.org' });
  });

  it('assembles a ClientHello fragmented over many records', async () => {
    const hello = await captureHello({ servername: 'frag-x.z.example.org' });
    for (const size of [1, 7, 100]) {
      const fragmented = refragment(hello, size);
      expect(feed([fragmented])[0]).toMatchObject({ kind: 'hello', sni: 'frag-x.z.example.org' });
    }
  });

  it('rejects what is not a TLS handshake with an alert', () => {
    expect(feed([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')])[0]).toMatchObject({
      kind: 'reject',
      reason: 'not-tls',
      alert: Alert.unexpectedMessage,
    });
    expect(feed([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])])[0]).toMatchObject({ reason: 'not-tls' });
  });

  it('rejects records longer than TLS allows before reading them', () => {
    const header = Buffer.from([0x16, 0x03, 0x01, 0x4e, 0x20]); // 20000 bytes announced
    expect(feed([header])[0]).toMatchObject({ kind: 'reject', reason: 'record-overflow', alert: Alert.recordOverflow });
  });

  it('rejects a ClientHello longer than MAX_HELLO once its length is known', () => {
    const start = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00]); // announces 64 KiB
    expect(feed([start])[0]).toMatchObject({ kind: 'reject', reason: 'hello-too-large' });
    expect(MAX_HELLO).toBeLessThan(0x10000);
  });

  it('stops reading tiny records once their total passes the bound', () => {
    // A ClientHello of MAX_HELLO bytes sent one byte per record needs 6x that on the wire.
    const start = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x3f, 0xfc]);
    const oneByte = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
    const reader = new ClientHelloReader();
    let result = reader.push(start);
    let pushed = 0;
    while (result.kind === 'more' && pushed < 100_000) {
      result = reader.push(oneByte);
      pushed++;
    }
    expect(result).toMatchObject({ kind: 'reject', reason: 'hello-too-large' });
    expect(pushed * oneByte.length).toBeLessThan(MAX_HELLO * 6);
  });

  it('rejects malformed ClientHellos with decode_error', () => {
    const cases: [string, Buffer][] = [
      ['a ServerHello instead', helloRecord(body(), 2)],
      ['a session id over 32 bytes', helloRecord(body(undefined, 33))],
      ['an extensions length past the end', helloRecord(Buffer.concat([body(sniExtension('a.example')), Buffer.from([])]).subarray(0, -3))],
      ['a host name with a bad character', helloRecord(body(sniExtension('bad_name!.example')))],
      ['a host name ending in a dot', helloRecord(body(sniExtension('trailing.example.')))],
      ['two server_name extensions', helloRecord(body(Buffer.concat([sniExtension('a.example'), sniExtension('b.example')])))],
      ['an empty record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])],
    ];
    for (const [what, bytes] of cases) {
      const [result] = feed([bytes]);
      expect(result.kind, what).toBe('reject');
      if (result.kind === 'reject') expect(result.reason, what).toMatch(/malformed/);
    }
    expect(feed([helloRecord(body(sniExtension('ok-1.z.example')))])[0]).toMatchObject({ sni: 'ok-1.z.example' });
  });

  it('never throws on random corruption of a real ClientHello', async () => {
    const hello = await captureHello({ servername: 'fuzz-x.z.example.org' });
    const next = rng(TEST_SEED);
    for (let n = 0; n < 2_000; n++) {
      const bad = Buffer.from(hello);
      for (let k = randomInt(next, 1, 8); k > 0; k--) bad[randomInt(next, 0, bad.length - 1)] = randomInt(next, 0, 255);
      const cut = bad.subarray(0, randomInt(next, 1, bad.length));
      const result = feed([cut])[0];
      expect(['more', 'hello', 'reject'], `seed ${TEST_SEED}`).toContain(result.kind);
    }
  });

  it('alerts are fatal alert records', () => {
    expect([...alertRecord(Alert.unrecognizedName)]).toEqual([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112]);
  });
});
