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

/** The live runs: one table of events per scheme, then what was read back. */
export function printLive(report: DurabilityReport, out = process.stdout): void {
  const live = report.live;
  if (!live) return;
  out.write(
    `\nlive: ${live.peers} peer processes (cairn dev up) on this machine, ${humanBytes(live.size)} of seeded files of known SHA-256 per scheme; ` +
      `after each fault, cairn repair until every stripe has n shards again\n`,
  );
  for (const { scheme, why } of live.not_run) out.write(`${scheme} not run live: ${why}\n`);
  for (const row of report.results) {
    const l = row.live;
    if (!l) continue;
    out.write(`\n${row.scheme} (k=${row.k}, m=${row.m}), ${l.files} files\n`);
    printTable(
      ['event', 'down', 'to full s', 'passes', 'degraded', 'rebuilt', 'moved', 'unreadable meanwhile', 'note'],
      l.events.map((e) => [
        e.event,
        String(e.peers_down),
        e.seconds_to_full_redundancy === null ? 'NOT REACHED' : e.seconds_to_full_redundancy.toFixed(1),
        String(e.repair_passes),
        String(e.degraded),
        String(e.shards_rebuilt),
        humanBytes(e.bytes_moved),
        e.bytes_unreadable === undefined ? '-' : humanBytes(e.bytes_unreadable) + (e.bytes_wrong ? `, ${humanBytes(e.bytes_wrong)} WRONG` : ''),
        [e.shards_corrupted === undefined ? '' : `${e.shards_corrupted} flipped, scrub found ${e.scrub_found}`, e.note ?? ''].filter(Boolean).join('; '),
      ]),
      out,
    );
    out.write(
      `${row.scheme}: read back ${humanBytes(l.bytes_verified)} of ${humanBytes(l.dataset_bytes)} as written, ` +
        `${l.bytes_lost === 0 ? 'nothing lost' : `${humanBytes(l.bytes_lost)} LOST (${humanBytes(l.bytes_wrong)} wrong)`}; ` +
        `repair ${l.repair_MBps.toFixed(1)} MB/s (bytes moved / seconds of the passes that moved them)\n`,
    );
  }
}
