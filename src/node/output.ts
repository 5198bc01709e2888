/**
 * Container output on its way to the control plane: chunks cut into lines
 * per instance and stream, queued until the next heartbeat carries them. The
 * queue is bounded: when the control plane is away, the oldest lines go first
 * and a note says how many.
 */
import type { LogLine } from '../control/api.js';

export const MAX_QUEUED_LINES = 5000;
export const MAX_LINE_CHARS = 4096;

export class OutputQueue {
  #lines: LogLine[] = [];
  #dropped = 0;
  readonly #partial = new Map<string, string>();

  /** A chunk of `instance`'s `stream`; a trailing partial line waits for the rest (up to MAX_LINE_CHARS). */
  write(instance: string, stream: LogLine['stream'], chunk: Buffer): void {
    const key = `${instance}\0${stream}`;
    const text = (this.#partial.get(key) ?? '') + chunk.toString('utf8');
    const parts = text.split('\n');
    let rest = parts.pop()!;
    for (const line of parts) this.#push({ instance, stream, atMs: Date.now(), text: line.slice(0, MAX_LINE_CHARS) });
    if (rest.length > MAX_LINE_CHARS) {
      this.#push({ instance, stream, atMs: Date.now(), text: rest.slice(0, MAX_LINE_CHARS) });
      rest = '';
    }
    if (rest === '') this.#partial.delete(key);
    else this.#partial.set(key, rest);
  }

  /** A line from the agent itself about the instance (start failures, exits, restarts). */
  note(instance: string, text: string): void {
    this.#push({ instance, stream: 'stderr', atMs: Date.now(), text: `[cairn] ${text}` });
  }

  #push(line: LogLine): void {
    this.#lines.push(line);
    if (this.#lines.length > MAX_QUEUED_LINES) {
      const over = this.#lines.length - MAX_QUEUED_LINES;
      this.#lines.splice(0, over);
      this.#dropped += over;
    }
  }

  /** Up to `max` lines for the next heartbeat, oldest first. */
  take(max: number): LogLine[] {
    if (this.#dropped > 0) {
      const first = this.#lines[0];
      if (first) this.#lines.unshift({ ...first, text: `[cairn] ${this.#dropped} lines dropped while the control plane was away` });
      this.#dropped = 0;
    }
    return this.#lines.splice(0, max);
  }

  /** Lines a failed heartbeat did not deliver go back to the front. */
  giveBack(lines: LogLine[]): void {
    this.#lines.unshift(...lines);
    if (this.#lines.length > MAX_QUEUED_LINES) {
      this.#dropped += this.#lines.length - MAX_QUEUED_LINES;
      this.#lines.splice(0, this.#lines.length - MAX_QUEUED_LINES);
    }
  }
}
