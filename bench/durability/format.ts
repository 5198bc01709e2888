/** How figures read in the table and the chart. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function humanBytes(bytes: number): string {
  let i = 0;
  while (bytes >= 1024 && i < UNITS.length - 1) {
    bytes /= 1024;
    i++;
  }
  return `${Number(bytes.toFixed(1))} ${UNITS[i]}`;
}

/** An annual probability: 3.2e-9, or 0. */
export function probability(p: number): string {
  return p === 0 ? '0' : p.toExponential(1);
}

export function ninesText(n: number | null): string {
  return n === null ? 'inf' : n.toFixed(1);
}

export function percent(rate: number): string {
  return `${Number((rate * 100).toPrecision(3))}%`;
}

export function describeInputs(i: { afr: number; repair_hours: number; peers: number; zones: number; volume_size: number }): string {
  const zones = i.zones > 1 ? ` in ${i.zones} zones` : '';
  return `AFR ${percent(i.afr)}/peer-year, repair ${i.repair_hours} h, ${i.peers} peers${zones}, ${humanBytes(i.volume_size)} volume`;
}
