/**
 * The SVG chart of a durability report: nines of the whole volume against
 * storage overhead, one group of markers per scheme (period model, Markov
 * chain, and the simulation's 95% lower bound), with axes, a target line
 * and a legend, so that it reads on its own.
 */
import { describeInputs, ninesText } from './format.js';
import type { DurabilityReport } from './index.js';
import { nines } from './stats.js';

const W = 860;
const H = 500;
const PLOT = { left: 80, right: 600, top: 70, bottom: 420 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((f) => f * pow).find((s) => s >= raw)!;
}

const marker = {
  period: (x: number, y: number) => `<circle class="period" cx="${x}" cy="${y}" r="5" fill="#1f77b4"/>`,
  markov: (x: number, y: number) => `<rect class="markov" x="${x - 4.5}" y="${y - 4.5}" width="9" height="9" fill="#d62728"/>`,
  simulated: (x: number, y: number) =>
    `<path class="simulated" d="M${x} ${y - 6}L${x + 6} ${y + 5}L${x - 6} ${y + 5}Z" fill="none" stroke="#2ca02c" stroke-width="1.5"/>`,
};

export function renderChart(report: DurabilityReport): string {
  const rows = report.results;
  const target = report.inputs.target_nines;
  const simulatedFloor = (ci: [number, number]) => nines(ci[1]);
  const finite = rows
    .flatMap((r) => [r.nines_period, r.nines_markov, simulatedFloor(r.ci95)])
    .filter((v): v is number => v !== null && Number.isFinite(v));
  const yMax = Math.ceil(Math.max(target + 1, ...finite) + 0.5);
  const xMin = Math.min(1, ...rows.map((r) => r.overhead));
  const xMax = Math.max(xMin + 1, ...rows.map((r) => r.overhead)) + 0.25;
  const sx = (v: number) => PLOT.left + ((v - xMin) / (xMax - xMin)) * (PLOT.right - PLOT.left);
  const sy = (v: number | null) => {
    const clamped = v === null || !Number.isFinite(v) ? yMax : Math.min(Math.max(v, 0), yMax);
    return PLOT.bottom - (clamped / yMax) * (PLOT.bottom - PLOT.top);
  };
  const f = (v: number) => v.toFixed(1);
  const rate = report.inputs.zone_failure_rate;
  const zoneLosses = rate > 0 ? `, zone losses ${rate}/zone-year (simulation only)` : '';

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>Cairn durability by scheme</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text class="title" x="${W / 2}" y="24" text-anchor="middle" font-size="16">Annual durability of a volume by redundancy scheme</text>`,
    `<text class="subtitle" x="${W / 2}" y="44" text-anchor="middle">` +
      `${esc(describeInputs(report.inputs))}${zoneLosses}; ${report.inputs.trials} simulated years per scheme</text>`,
  );

  // Grid, ticks and axes.
  const yStep = niceStep(yMax, 8);
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(
      `<line x1="${PLOT.left}" y1="${f(sy(v))}" x2="${PLOT.right}" y2="${f(sy(v))}" stroke="#e5e5e5"/>`,
      `<text class="tick" x="${PLOT.left - 8}" y="${f(sy(v) + 4)}" text-anchor="end">${Number(v.toFixed(2))}</text>`,
    );
  }
  const xStep = niceStep(xMax - xMin, 6);
  for (let v = Math.ceil(xMin / xStep) * xStep; v <= xMax + 1e-9; v += xStep) {
    out.push(
      `<line x1="${f(sx(v))}" y1="${PLOT.top}" x2="${f(sx(v))}" y2="${PLOT.bottom}" stroke="#f0f0f0"/>`,
      `<text class="tick" x="${f(sx(v))}" y="${PLOT.bottom + 18}" text-anchor="middle">${Number(v.toFixed(2))}x</text>`,
    );
  }
  out.push(
    `<line class="axis" x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="black"/>`,
    `<line class="axis" x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="black"/>`,
    `<text class="axis-label" x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 44}" text-anchor="middle">` +
      'storage overhead (bytes stored per byte of data)</text>',
    `<text class="axis-label" transform="translate(24 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">` +
      'nines of annual durability, whole volume (-log10 of loss)</text>',
  );

  // Target line.
  out.push(
    `<line class="target" x1="${PLOT.left}" y1="${f(sy(target))}" x2="${PLOT.right}" y2="${f(sy(target))}" ` +
      'stroke="#555" stroke-dasharray="6 4"/>',
    `<text x="${PLOT.right - 4}" y="${f(sy(target) - 6)}" text-anchor="end" fill="#555">target: ${target} nines</text>`,
  );

  // One group per scheme.
  for (const r of rows) {
    const x = sx(r.overhead);
    const yLabel = sy(r.nines_markov);
    out.push(
      `<g class="scheme" data-scheme="${esc(r.scheme)}" data-overhead="${r.overhead}">`,
      `<title>${esc(r.scheme)}: overhead ${r.overhead.toFixed(2)}x, nines ${ninesText(r.nines_period)} (period), ` +
        `${ninesText(r.nines_markov)} (Markov)</title>`,
      marker.period(Number(f(x)), Number(f(sy(r.nines_period)))),
      marker.markov(Number(f(x)), Number(f(sy(r.nines_markov)))),
      marker.simulated(Number(f(x)), Number(f(sy(simulatedFloor(r.ci95))))),
      `<text class="label" x="${f(x + 10)}" y="${f(yLabel + 4)}">${esc(r.scheme)}</text>`,
      `</g>`,
    );
  }

  // Legend.
  const lx = PLOT.right + 24;
  const legend: [string, string][] = [
    [marker.period(lx + 6, 0), 'period model (Backblaze)'],
    [marker.markov(lx + 6, 0), 'Markov chain (MTTDL)'],
    [marker.simulated(lx + 6, 0), 'simulation, 95% lower bound'],
    [`<line x1="${lx - 2}" y1="0" x2="${lx + 14}" y2="0" stroke="#555" stroke-dasharray="6 4"/>`, 'target'],
  ];
  out.push(`<g class="legend">`, `<text x="${lx - 4}" y="${PLOT.top}" font-weight="bold">legend</text>`);
  legend.forEach(([shape, text], i) => {
    const y = PLOT.top + 24 + i * 24;
    out.push(`<g transform="translate(0 ${y})">${shape}<text x="${lx + 20}" y="4">${esc(text)}</text></g>`);
  });
  out.push(`</g>`, `</svg>`);
  return `${out.join('\n')}\n`;
}
