// Which values a typed table column takes, shared by the JSON Lines and Parquet writers so that both formats
// refuse the same rows (a row one format wrote and the other refused made a job's result depend on -f).

import type { ColumnSpec } from '../../runtime/api/table.js';
import { CoattailError } from '../../runtime/errors.js';

/** The largest distance from 1970 a Date (and an ISO-8601 text) can name: ±100,000,000 days. */
export const MAX_TIMESTAMP_MS = 8.64e15;
const TWO_TO_63 = 2 ** 63;

/** A whole number a Parquet INT64 holds exactly; a double at or beyond ±2^63 wrapped around into another number. */
export function isInt64(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= -TWO_TO_63 && value < TWO_TO_63;
}

/** Epoch milliseconds a timestamp column takes (fractions are truncated, as Date does). */
export function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_TIMESTAMP_MS;
}

export function nullInRequiredColumn(table: string, column: string): CoattailError {
  return new CoattailError('SINK_FAILED', `Table ${table}: column ${column} is not nullable but a row has no value for it`);
}

export function badValue(table: string, column: ColumnSpec, value: unknown): CoattailError {
  return new CoattailError(
    'SINK_FAILED',
    `Table ${table}: column ${column.name} is ${column.type} but a row holds ${JSON.stringify(value) ?? String(value)}`,
  );
}

export function badTimestamp(table: string, column: string, value: unknown): CoattailError {
  return new CoattailError(
    'SINK_FAILED',
    `Table ${table}: timestamp column ${column} needs epoch milliseconds, got ${JSON.stringify(value) ?? String(value)}`,
  );
}
