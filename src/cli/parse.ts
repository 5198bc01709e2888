import { InvalidArgumentError } from 'commander';
import { UsageError } from '../errors/index.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** "4MiB", "512k", "1.5GB", "4096" -> bytes. Binary units unless the SI spelling (kB, MB) is used. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(`"${text}" is not a size; use e.g. 4096, 64KiB, 4MiB, 1GiB`);
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`size "${text}" is out of range`);
  return bytes;
}

/** A positive integer flag value. */
export function parseCount(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`"${text}" is not a positive whole number`);
  }
  return n;
}

/** Wraps a parser for commander, so a bad value is reported against its flag. */
export function asFlag<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof UsageError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

/** "4+2" -> { k: 4, m: 2 }. */
export function parseCode(text: string): { k: number; m: number } {
  const match = /^\s*(\d+)\s*\+\s*(\d+)\s*$/.exec(text);
  const k = match ? Number(match[1]) : Number.NaN;
  const m = match ? Number(match[2]) : Number.NaN;
  if (!match || k < 1 || m < 0 || k + m > 256) {
    throw new UsageError(`"${text}" is not a code; use K+M with K >= 1 and K+M <= 256, e.g. 4+2`);
  }
  return { k, m };
}

const VOLUME_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function parseVolumeName(text: string): string {
  if (!VOLUME_NAME.test(text)) {
    throw new UsageError(`"${text}" is not a volume name: 1-63 of a-z 0-9 . _ -, starting with a letter or digit`);
  }
  return text;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "500ms", "5s", "2m", "1h", or a bare number of milliseconds; at least 1 ms. */
export function parseDuration(text: string): number {
  const ms = parseDurationOrZero(text);
  if (ms < 1) throw new UsageError(`"${text}" is not a duration; use e.g. 500ms, 5s, 2m`);
  return ms;
}

/** Like parseDuration, and 0 is allowed ("never wait", "off"). */
export function parseDurationOrZero(text: string): number {
  const match = /^\s*(\d+)\s*(ms|s|m|h)?\s*$/.exec(text);
  const ms = match ? Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms'] : Number.NaN;
  if (!match || !Number.isSafeInteger(ms)) throw new UsageError(`"${text}" is not a duration; use e.g. 500ms, 5s, 2m, 1h`);
  return ms;
}

/** A port to listen on, 0-65535; 0 lets the system pick one. */
export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535) throw new UsageError(`"${text}" is not a port number (0-65535; 0 picks a free one)`);
  return n;
}
