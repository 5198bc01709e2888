/** The terminal form of a durability report: one table row per scheme, then the answer in plain words. */
import { printTable } from '../../src/cli/table.js';
import { describeInputs, humanBytes, ninesText, probability } from './format.js';
import { type DurabilityReport, modelNines } from './index.js';

export function printReport(report: DurabilityReport, chartPath: string, out = process.stdout): void {
  const { inputs, results, answer } = report;
  printTable(
    ['scheme', 'overhead', 'stripe nines P/M', 'volume loss/yr P', 'M', 'simulated', '95% CI', 'volume nines', 'repair read', 'MB/s'],
    results.map((r) => [
      r.scheme,
      `${r.overhead.toFixed(2)}x`,
      `${ninesText(r.stripe_nines_period)} / ${ninesText(r.stripe_nines_markov)}`,
      probability(r.annual_loss_period),
      probability(r.annual_loss_markov),
      probability(r.annual_loss_simulated),
      `[${probability(r.ci95[0])}, ${probability(r.ci95[1])}]`,
      ninesText(Number.isFinite(modelNines(r)) ? modelNines(r) : null),
      humanBytes(r.repair_read_bytes),
      r.repair_read_MBps.toFixed(1),
    ]),
    out,
  );
  const lines = [
    '',
    `${describeInputs(inputs)} = ${inputs.stripes} stripes of ${humanBytes(inputs.block_size)}.`,
    'Loss/yr: probability of losing at least one stripe of the volume in a year. P: Backblaze period model; M: Markov chain',
    `with parallel repair; simulated: ${inputs.trials} years per scheme (seed ${inputs.seed}). Volume nines: the worse of P and M.`,
    'Repair read: bytes read to rebuild one failed peer (k per lost shard); MB/s: the rate that takes the repair time.',
  ];
  if (inputs.zone_failure_rate > 0) {
    lines.push(
      `Zone losses (${inputs.zone_failure_rate} per zone per year) are in the simulation only; the models assume independent failures.`,
    );
  }
  if (answer.scheme !== null) {
    const { target_nines: target, scheme, overhead, nines } = answer;
    lines.push(`lowest overhead with >= ${target} nines: ${scheme} (${overhead!.toFixed(2)}x, ${ninesText(nines)} nines)`);
  } else {
    const best = [...results].sort((a, b) => modelNines(b) - modelNines(a))[0];
    lines.push(
      `no scheme reaches ${answer.target_nines} nines; the most is ${best.scheme} with ${ninesText(modelNines(best))}` +
        ' (more parity, a shorter --repair-hours or a lower --afr raise it)',
    );
  }
  lines.push(`chart: ${chartPath}`);
  out.write(`${lines.join('\n')}\n`);
}
