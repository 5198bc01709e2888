import { describe, expect, it } from 'vitest';
import { ERROR, FRAME_VERSION, FrameError, FrameReader, MAX_FRAME_BYTES, OK, Op, encodeFrame } from '../../src/peer/frame.js';

const wire = (type: number, id: number, meta: Record<string, unknown>, body?: Uint8Array) => Buffer.concat(encodeFrame(type, id, meta, body));

/** A frame built by hand, byte by byte as docs/FORMAT.md describes it. */
function handMade(version: number, type: number, id: number, meta: string, body: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(meta);
  const b = Buffer.alloc(14 + json.length + body.length);
  b.writeUInt32BE(10 + json.length + body.length, 0);
  b[4] = version;
  b[5] = type;
  b.writeUInt32BE(id, 6);
  b.writeUInt32BE(json.length, 10);
  json.copy(b, 14);
  b.set(body, 14 + json.length);
  return b;
}

describe('peer frames', () => {
  it('encode to the documented layout', () => {
    const body = new Uint8Array([9, 8, 7]);
    expect(wire(Op.Put, 258, { id: 'x' }, body).equals(handMade(FRAME_VERSION, Op.Put, 258, '{"id":"x"}', body))).toBe(true);
  });

  it('decode frames split at every byte and several in one chunk', () => {
    const a = wire(Op.Get, 1, { id: 'a' });
    const b = wire(OK, 1, {}, new Uint8Array(1000).fill(5));
    const c = wire(ERROR, 2, { code: 'store.not-found', message: 'no' });
    const all = Buffer.concat([a, b, c]);
    for (const cut of [1, 3, 4, 13, 14, a.length, a.length + 5, all.length - 1]) {
      const reader = new FrameReader();
      const frames = [...reader.push(all.subarray(0, cut)), ...reader.push(all.subarray(cut))];
      expect(frames.map((f) => [f.type, f.id, f.meta, f.body.length])).toEqual([
        [Op.Get, 1, { id: 'a' }, 0],
        [OK, 1, {}, 1000],
        [ERROR, 2, { code: 'store.not-found', message: 'no' }, 0],
      ]);
    }
    const oneByOne = new FrameReader();
    const frames = [...all].flatMap((byte) => oneByOne.push(Uint8Array.of(byte)));
    expect(frames).toHaveLength(3);
    expect(frames[1].body.every((x) => x === 5)).toBe(true);
  });

  it('takes a body that arrived as a chunk of its own as a view, and copies a small one out of a large chunk', () => {
    const [head, body] = encodeFrame(OK, 3, {}, new Uint8Array(64 * 1024).fill(7));
    const reader = new FrameReader();
    expect(reader.push(head)).toEqual([]);
    const [big] = reader.push(body);
    expect(big.body.buffer).toBe(body.buffer);
    const small = wire(OK, 4, {}, new Uint8Array(16).fill(9));
    const chunk = Buffer.concat([small, Buffer.alloc(64 * 1024)]);
    const [kept] = new FrameReader().push(chunk.subarray(0, small.length));
    expect(kept.body).toEqual(new Uint8Array(16).fill(9));
    expect(kept.body.buffer).not.toBe(chunk.buffer);
  });

  it('refuses a frame that claims more than the maximum before reading it', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(() => new FrameReader().push(head)).toThrow(FrameError);
    const tiny = Buffer.alloc(4);
    tiny.writeUInt32BE(3, 0);
    expect(() => new FrameReader().push(tiny)).toThrow(/outside/);
  });

  it.each([
    ['another version', handMade(2, Op.Get, 1, '{}'), /version 2/],
    ['meta that is not JSON', handMade(1, Op.Get, 1, '{nope'), /not JSON/],
    ['meta that is not an object', handMade(1, Op.Get, 1, '[1,2]'), /not a JSON object/],
    ['meta null', handMade(1, Op.Get, 1, 'null'), /not a JSON object/],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => new FrameReader().push(bytes)).toThrow(message);
  });

  it('refuses a meta length larger than its frame', () => {
    const b = handMade(1, Op.Get, 1, '{}');
    b.writeUInt32BE(1000, 10);
    expect(() => new FrameReader().push(b)).toThrow(/does not fit/);
  });

  it('will not encode a frame over the limit', () => {
    expect(() => encodeFrame(OK, 1, {}, new Uint8Array(MAX_FRAME_BYTES))).toThrow(FrameError);
  });
});
