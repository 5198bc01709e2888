import { describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS, MAX_QUEUED_LINES, OutputQueue } from '../../src/node/output.js';

const texts = (q: OutputQueue, max = 100_000) => q.take(max).map((l) => `${l.instance}/${l.stream}: ${l.text}`);

describe("a node agent's container output queue", () => {
  it('cuts chunks into lines per instance and stream, keeping partial lines for the next chunk', () => {
    const q = new OutputQueue();
    q.write('a', 'stdout', Buffer.from('one\ntw'));
    q.write('b', 'stdout', Buffer.from('other\n'));
    q.write('a', 'stderr', Buffer.from('err'));
    q.write('a', 'stdout', Buffer.from('o\nthree\n'));
    q.write('a', 'stderr', Buffer.from('or\n'));
    expect(texts(q)).toEqual(['a/stdout: one', 'b/stdout: other', 'a/stdout: two', 'a/stdout: three', 'a/stderr: error']);
    expect(q.take(10)).toEqual([]);
  });

  it('cuts endless lines, and takes at most what a heartbeat carries', () => {
    const q = new OutputQueue();
    q.write('a', 'stdout', Buffer.from('x'.repeat(MAX_LINE_CHARS + 10)));
    q.write('a', 'stdout', Buffer.from('\n'));
    const lines = q.take(10);
    expect(lines.map((l) => l.text.length)).toEqual([MAX_LINE_CHARS, 0]);
    for (let i = 0; i < 5; i++) q.note('a', `note ${i}`);
    expect(q.take(2).map((l) => l.text)).toEqual(['[cairn] note 0', '[cairn] note 1']);
    expect(q.take(10)).toHaveLength(3);
  });

  it('drops the oldest lines past its bound and says how many', () => {
    const q = new OutputQueue();
    q.write('a', 'stdout', Buffer.from(Array.from({ length: MAX_QUEUED_LINES + 7 }, (_, i) => `l${i}`).join('\n') + '\n'));
    const lines = q.take(MAX_QUEUED_LINES + 100);
    expect(lines[0].text).toBe('[cairn] 7 lines dropped while the control plane was away');
    expect(lines[1].text).toBe('l7');
    expect(lines.at(-1)!.text).toBe(`l${MAX_QUEUED_LINES + 6}`);
  });

  it('lines given back after a failed heartbeat go out first next time', () => {
    const q = new OutputQueue();
    q.write('a', 'stdout', Buffer.from('1\n2\n'));
    const sent = q.take(10);
    q.write('a', 'stdout', Buffer.from('3\n'));
    q.giveBack(sent);
    expect(q.take(10).map((l) => l.text)).toEqual(['1', '2', '3']);
  });
});
