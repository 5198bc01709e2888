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
