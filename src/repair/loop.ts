import type { Volume } from '../volume/index.js';
import { type RepairReport, repairVolume } from './repair.js';

export interface RepairLoopOptions {
  everyMs: number;
  graceMs: number;
  /** Called after each pass that found something short of n. */
  onReport(report: RepairReport): void;
  onError(err: Error): void;
}

/**
 * The background repair of a read-write mount: one pass every `everyMs`,
 * never two at once; `stop` waits for a pass in progress.
 */
export function startRepairLoop(volume: Volume, options: RepairLoopOptions): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= repairVolume(volume, { graceMs: options.graceMs })
      .then((report) => {
        if (report.degraded > 0) options.onReport(report);
      }, options.onError)
      .finally(() => {
        running = undefined;
      });
  }, options.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
