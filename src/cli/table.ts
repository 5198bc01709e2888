/** Prints rows as aligned columns; numbers-looking cells are right-aligned. */
export function printTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  out = process.stdout,
): void {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((r) => /^[\d.,-]+[x%]?$/.test(r[c])));
  for (const r of all) {
    const cells = r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])));
    out.write(`${cells.join('  ').trimEnd()}\n`);
  }
}

/** Bytes for people: KiB, MiB or GiB with one decimal (none for KiB). */
export function humanBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
