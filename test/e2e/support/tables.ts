// Reads a run's output tables (JSON Lines or Parquet) as sorted row sets and compares them with another run's.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

export const TABLE_NAMES = ['volume_aggregates', 'exchange_spreads', 'whale_trades', 'anomaly_alerts', 'dlq'] as const;

/** Columns that carry the processing time of emission: a re-emission after a restore may change them. */
const PROCESSING_TIME_COLUMNS: Record<string, readonly string[]> = {
  anomaly_alerts: ['detected_at', 'ttl_epoch'],
  dlq: ['received_at'],
};

/** Per table, every committed row as canonical JSON text (keys sorted), sorted; duplicates are kept. */
export type Tables = Record<string, string[]>;

export type OutputFormat = 'jsonl' | 'parquet';

async function filesBelow(folder: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/** Readers (Spark, DuckDB) skip names starting with `.` or `_`: those are not committed output. */
const isVisible = (file: string): boolean => !/^[._]/.test(path.basename(file));

function canonicalRow(table: string, row: Record<string, unknown>): string {
  const dropped = new Set(PROCESSING_TIME_COLUMNS[table] ?? []);
  const entries = Object.keys(row)
    .filter((name) => !dropped.has(name))
    .sort()
    .map((name) => {
      const value = row[name];
      return [name, value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? Number(value) : value] as const;
    });
  return JSON.stringify(Object.fromEntries(entries));
}

async function rowsOfFile(file: string, format: OutputFormat): Promise<Record<string, unknown>[]> {
  if (format === 'parquet') return (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Record<string, unknown>[];
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function readTables(outDir: string, format: OutputFormat, names: readonly string[] = TABLE_NAMES): Promise<Tables> {
  const tables: Tables = {};
  for (const table of names) {
    const rows: string[] = [];
    for (const file of (await filesBelow(path.join(outDir, table))).filter(isVisible)) {
      for (const row of await rowsOfFile(file, format)) rows.push(canonicalRow(table, row));
    }
    tables[table] = rows.sort();
  }
  return tables;
}

export interface TableDifference {
  /** Rows (with multiplicity) the expected run has and the actual lacks. */
  readonly missing: number;
  /** Rows the actual run has beyond the expected, e.g. duplicates. */
  readonly extra: number;
  readonly examples: string[];
}

function countRows(rows: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row, (counts.get(row) ?? 0) + 1);
  return counts;
}

/**
 * A row with each fractional number (also inside JSON text such as alert `details`) replaced by `~`, and
 * those numbers in order: rows that may differ only in floating-point rounding share the shape.
 */
function shapeOf(row: string): { shape: string; numbers: number[] } {
  const numbers: number[] = [];
  const walk = (value: unknown): unknown => {
    if (typeof value === 'number' && !Number.isInteger(value)) {
      numbers.push(value);
      return '~';
    }
    if (typeof value === 'string' && value.startsWith('{')) {
      try {
        return JSON.stringify(walk(JSON.parse(value)));
      } catch {
        return value;
      }
    }
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, walk(inner)]));
    }
    return value;
  };
  return { shape: JSON.stringify(walk(JSON.parse(row))), numbers };
}

const close = (a: number, b: number, tolerance: number): boolean => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Rows equal up to `tolerance` (relative, absolute below 1) in every fractional number. With several splits,
 * records reach a window in an order that varies from run to run, so sums differ in their last bits.
 */
function withTolerance(actual: readonly string[], expected: readonly string[], tolerance: number): { actual: string[]; expected: string[] } {
  const byShape = (rows: readonly string[]) => {
    const groups = new Map<string, Array<{ row: string; numbers: number[] }>>();
    for (const row of rows) {
      const { shape, numbers } = shapeOf(row);
      groups.set(shape, [...(groups.get(shape) ?? []), { row, numbers }]);
    }
    return groups;
  };
  const expectedGroups = byShape(expected);
  const unmatchedActual: string[] = [];
  for (const [shape, group] of byShape(actual)) {
    const candidates = expectedGroups.get(shape) ?? [];
    for (const { row, numbers } of group) {
      const index = candidates.findIndex((candidate) => candidate.numbers.every((n, i) => close(n, numbers[i]!, tolerance)));
      if (index === -1) unmatchedActual.push(row);
      else candidates.splice(index, 1);
    }
  }
  return { actual: unmatchedActual, expected: [...expectedGroups.values()].flat().map(({ row }) => row) };
}

/**
 * The tables that differ as multisets of rows, with a few example rows: `{}` when every table matches.
 * `tolerance` > 0 lets fractional numbers differ by that much relatively (absolutely below 1).
 */
export function tableDifferences(actual: Tables, expected: Tables, tolerance = 0): Record<string, TableDifference> {
  const differences: Record<string, TableDifference> = {};
  // Every table either side read (another job's tables too, not only the detectors').
  for (const table of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const compared = tolerance > 0 ? withTolerance(actual[table] ?? [], expected[table] ?? [], tolerance) : { actual: actual[table] ?? [], expected: expected[table] ?? [] };
    const actualCounts = countRows(compared.actual);
    const expectedCounts = countRows(compared.expected);
    let missing = 0;
    let extra = 0;
    const examples: string[] = [];
    for (const row of new Set([...actualCounts.keys(), ...expectedCounts.keys()])) {
      const delta = (actualCounts.get(row) ?? 0) - (expectedCounts.get(row) ?? 0);
      if (delta === 0) continue;
      if (delta < 0) missing -= delta;
      else extra += delta;
      if (examples.length < 3) examples.push(`${delta < 0 ? 'missing' : 'extra'} ${row.slice(0, 300)}`);
    }
    if (missing || extra) differences[table] = { missing, extra, examples };
  }
  return differences;
}

/** Tables reduced to distinct rows: what a store keyed on the row (or on `alert_id`) would hold. */
export function distinctRows(tables: Tables): Tables {
  return Object.fromEntries(Object.entries(tables).map(([table, rows]) => [table, [...new Set(rows)]]));
}

/** Part files still hidden (written or pending, never committed) below an output folder, relative to it, sorted. */
export async function hiddenPartFiles(outDir: string): Promise<string[]> {
  return (await filesBelow(outDir))
    .filter((file) => path.basename(file).startsWith('.part-'))
    .map((file) => path.relative(outDir, file))
    .sort();
}

export async function readSummary(outDir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(outDir, '_summary.json'), 'utf8')) as Record<string, unknown>;
}

/** Summary fields that describe one process rather than the data: they legitimately differ after a restore. */
const RUN_FIELDS = ['duration_ms', 'parallelism', 'restored_from', 'checkpoints', 'stopped'];

export function comparableSummary(summary: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(summary).filter(([field]) => !RUN_FIELDS.includes(field)));
}
