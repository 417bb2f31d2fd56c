// Durations as people write them in flags and config: `500ms`, `30s`, `5m`, `1h`, `1d`, or milliseconds.

import { CoattailError } from '../errors.js';

export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for a duration, or a BAD_ARGUMENT error naming `what`. */
export function parseDuration(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new CoattailError('BAD_ARGUMENT', `${what} must be a non-negative number of milliseconds, got ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(value);
  if (!match) {
    throw new CoattailError('BAD_ARGUMENT', `${what} must look like 500ms, 30s, 5m, 1h or 1d, got "${value}"`);
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!);
}
