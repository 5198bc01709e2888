/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal
 * (never into logs, pipes or --json output).
 */
export interface Progress {
  update(done: number, total: number, label: string): void;
  end(): void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr, width = 24): Progress {
  if (!stream.isTTY) return { update() {}, end() {} };
  return {
    update(done, total, label) {
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${label}`);
    },
    end() {
      stream.write('\r\x1b[K');
    },
  };
}
