/**
 * Recent container output per app, as node agents send it with their
 * heartbeats. Kept in memory only and bounded: `cairn app logs` is for
 * looking at what an app is doing now, not an archive.
 */
import type { LogLine } from './api.js';

export const LINES_PER_APP = 2000;
/** Longer lines are cut (agents cut them too; this guards against any sender). */
export const MAX_LINE_CHARS = 4096;

export class LogBook {
  readonly #byApp = new Map<string, (LogLine & { seq: number })[]>();
  #seq = 0;

  add(app: string, line: LogLine): void {
    let lines = this.#byApp.get(app);
    if (!lines) {
      lines = [];
      this.#byApp.set(app, lines);
    }
    lines.push({ ...line, text: line.text.slice(0, MAX_LINE_CHARS), seq: ++this.#seq });
    if (lines.length > LINES_PER_APP) lines.splice(0, lines.length - LINES_PER_APP);
  }

  /** Lines of `app` newer than `after`, oldest first, and the `after` for the next call. */
  read(app: string, after = 0): { lines: (LogLine & { seq: number })[]; next: number } {
    const lines = (this.#byApp.get(app) ?? []).filter((l) => l.seq > after);
    return { lines, next: lines.at(-1)?.seq ?? Math.max(after, 0) };
  }

  drop(app: string): void {
    this.#byApp.delete(app);
  }
}
