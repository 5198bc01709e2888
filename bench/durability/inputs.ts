/** The inputs of `cairn bench durability`: defaults, flag parsers and the checks between flags. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/errors/index.js';
import type { DurabilityInputs } from './index.js';
import { HOURS_PER_YEAR } from './models.js';
import { DEFAULT_SCHEMES, parseScheme } from './scheme.js';

export const DEFAULT_INPUTS = {
  schemes: DEFAULT_SCHEMES,
  afr: 0.02,
  repairHours: 24,
  peers: 24,
  zones: 1,
  zoneFailureRate: 0,
  volumeSize: 2 ** 40,
  blockSize: 2 ** 20,
  trials: 1_000_000,
  seed: 1,
  targetNines: 11,
  chart: join(tmpdir(), 'cairn-durability.svg'),
} as const;

const MAX_PEERS = 100_000;

/** A finite number >= 0 (> 0 unless zero is allowed), e.g. "0.02", "1e-3". */
export function parseNumber(text: string, { zero = false } = {}): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x < 0 || (!zero && x === 0)) {
    throw new UsageError(`"${text}" is not a ${zero ? 'non-negative' : 'positive'} number`);
  }
  return x;
}

/** A whole number >= 0. */
export function parseSeed(text: string): number {
  const x = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || x > 0xffffffff) throw new UsageError(`"${text}" is not a seed (a whole number 0..4294967295)`);
  return x;
}

/** The command line's view of the inputs: scheme texts, not yet parsed or checked against each other. */
export type DurabilityFlags = Omit<DurabilityInputs, 'schemes'> & { scheme: string[] };

/** Flags -> inputs, refusing combinations the models cannot answer, with what to change. */
export function parseDurabilityFlags(flags: DurabilityFlags): DurabilityInputs {
  const texts = flags.scheme.length > 0 ? flags.scheme : DEFAULT_SCHEMES;
  const schemes = texts.map(parseScheme).filter((s, i, all) => all.findIndex((o) => o.label === s.label) === i);
  if (flags.peers > MAX_PEERS) throw new UsageError(`--peers ${flags.peers} is more than ${MAX_PEERS}`);
  const tooWide = schemes.filter((s) => s.n > flags.peers);
  if (tooWide.length > 0) {
    const widest = Math.max(...tooWide.map((s) => s.n));
    throw new UsageError(
      `${tooWide.map((s) => s.label).join(', ')} need${tooWide.length === 1 ? 's' : ''} ${widest} peers (one per shard) ` +
        `but --peers is ${flags.peers}; raise --peers or choose schemes with --scheme`,
    );
  }
  if (flags.zones > flags.peers) throw new UsageError(`--zones ${flags.zones} is more than --peers ${flags.peers}`);
  if (flags.zoneFailureRate > 0 && flags.zones < 2) {
    throw new UsageError('--zone-failure-rate needs --zones 2 or more (with one zone a zone failure is the whole cluster)');
  }
  if (flags.afr * (flags.repairHours / HOURS_PER_YEAR) >= 1) {
    throw new UsageError('--afr × --repair-hours is one failure per peer per repair time or more; the period model needs far less');
  }
  const { scheme: _texts, ...rest } = flags;
  return { ...rest, schemes };
}
