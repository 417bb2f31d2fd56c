// Helpers for the Coat Tail detector end-to-end tests: run the built CLI on a tape, read its tables (JSON Lines
// or Parquet through hyparquet, a reader independent of the writer) and compare them with the reference by value.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import type { ReferenceSummary } from '../../bench/baselines/reference.js';
import { TABLES, TABLE_NAMES, type TableName } from '../../jobs/modules/tables.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'bin', 'coattail.js');

export type JobName = 'all' | 'whale' | 'volume' | 'spread';
export type Row = Record<string, unknown>;
export type Tables = Partial<Record<TableName, Row[]>>;

export function jobFile(job: JobName): string {
  return join(ROOT, 'jobs', `${job}.ts`);
}

/** The tests drive the compiled CLI; build it when dist/ is missing (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'dist', 'runtime', 'cli', 'main.js'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

/** A fresh folder under the system temp folder; `removeAll` deletes every folder made so far. */
export function temporaryFolders(prefix: string): { make: (name?: string) => string; removeAll: () => void } {
  const made: string[] = [];
  return {
    make: (name = 'run') => {
      const folder = mkdtempSync(join(tmpdir(), `${prefix}-${name}-`));
      made.push(folder);
      return folder;
    },
    removeAll: () => {
      for (const folder of made.splice(0)) rmSync(folder, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The safety net killed a process that did not end by itself. */
  readonly timedOut: boolean;
}

/** `coattail <args>` in a child process; a hung run is killed after `safetyNetMs` and reported as timedOut. */
export function runCoattail(args: readonly string[], options: { cwd?: string; safetyNetMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const safetyNet = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.safetyNetMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(safetyNet);
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

export interface JobRunOptions {
  readonly parallelism: number;
  readonly format?: 'jsonl' | 'parquet';
  readonly config?: string;
}

/** Runs a Coat Tail job over a file and fails loudly (with the CLI's stderr) unless it finishes cleanly. */
export async function runJobOnFile(job: JobName, tape: string, out: string, options: JobRunOptions): Promise<CliRun> {
  const args = ['run', jobFile(job), '-s', `file:${tape}`, '-o', out, '-f', options.format ?? 'jsonl', '-p', String(options.parallelism), '--no-checkpoints', '-q'];
  if (options.config) args.push('-c', options.config);
  const run = await runCoattail(args);
  if (run.code !== 0 || run.timedOut) {
    throw new Error(`coattail run ${job} -p ${options.parallelism} failed (exit ${run.code}${run.timedOut ? ', timed out' : ''}): ${run.stderr.trim()}`);
  }
  return run;
}

export type Summary = Record<string, unknown> & { rows?: Record<string, number>; late_dropped?: Record<string, number> };

export function readSummary(out: string): Summary {
  return JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8')) as Summary;
}

/** The counters the reference also keeps, taken from an engine `_summary.json` for a like-for-like comparison. */
export function comparableSummary(summary: Summary): ReferenceSummary {
  const keys = ['records_in', 'passed', 'malformed', 'incomplete', 'invalid', 'duplicate', 'late_flagged', 'inconsistent', 'late_dropped', 'rows'] as const;
  return Object.fromEntries(keys.map((key) => [key, summary[key]])) as unknown as ReferenceSummary;
}

/** Every file below a folder, as paths relative to it with `/` separators. */
export function listFiles(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Rows of the committed (visible) JSON Lines parts of one table. */
export function readJsonlTable(out: string, table: TableName): Row[] {
  const folder = join(out, table);
  const rows: Row[] = [];
  for (const file of listFiles(folder)) {
    if (file.split('/').some((part) => part.startsWith('.')) || !file.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(folder, file), 'utf8').split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as Row);
  }
  return rows;
}

export function readJsonlTables(out: string, tables: readonly TableName[] = TABLE_NAMES): Tables {
  return Object.fromEntries(tables.map((table) => [table, readJsonlTable(out, table)]));
}

/** Rows of one Parquet file, decoded by hyparquet (timestamps as Date, int64 as bigint). */
export async function readParquetFile(path: string): Promise<Row[]> {
  return (await parquetReadObjects({ file: await asyncBufferFromFile(path) })) as Row[];
}

/** Rows of the committed Parquet parts of one table. */
export async function readParquetTable(out: string, table: TableName): Promise<Row[]> {
  const folder = join(out, table);
  const rows: Row[] = [];
  for (const file of listFiles(folder)) {
    if (file.split('/').some((part) => part.startsWith('.')) || !file.endsWith('.parquet')) continue;
    rows.push(...(await readParquetFile(join(folder, file))));
  }
  return rows;
}

/** Columns that hold processing time (when a row was made), which no two runs share. */
export const PROCESSING_TIME_COLUMNS: ReadonlySet<string> = new Set(['detected_at', 'ttl_epoch', 'received_at']);

/** Epoch ms of a timestamp cell, whether it arrived as ms (the reference), ISO text (JSONL) or a Date (Parquet). */
export function toEpochMs(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return Date.parse(value);
  if (typeof value === 'bigint') return Number(value);
  return value;
}

function canonicalCell(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'timestamp') return toEpochMs(value);
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** One row as comparable text: the schema's columns in order, values by meaning, processing-time columns left out. */
export function canonicalRow(table: TableName, row: Row, options: { keepProcessingTime?: boolean } = {}): string {
  const cells = TABLES[table].columns
    .filter((column) => options.keepProcessingTime || !PROCESSING_TIME_COLUMNS.has(column.name))
    .map((column) => [column.name, canonicalCell(column.type, row[column.name])]);
  return JSON.stringify(cells);
}

export function canonicalRows(table: TableName, rows: readonly Row[]): string[] {
  return rows.map((row) => canonicalRow(table, row)).sort();
}

/** Rows one side has and the other lacks, as multisets (a duplicated row counts twice); a few of each for a readable failure. */
export function rowDifference(table: TableName, actual: readonly Row[], expected: readonly Row[]): { table: TableName; missing: string[]; extra: string[] } {
  const remaining = new Map<string, number>();
  for (const row of canonicalRows(table, expected)) remaining.set(row, (remaining.get(row) ?? 0) + 1);
  const extra: string[] = [];
  for (const row of canonicalRows(table, actual)) {
    const left = remaining.get(row) ?? 0;
    if (left === 0) extra.push(row);
    else remaining.set(row, left - 1);
  }
  const missing = [...remaining].flatMap(([row, count]) => Array<string>(count).fill(row));
  return { table, missing: missing.slice(0, 5), extra: extra.slice(0, 5) };
}

export const NO_DIFFERENCE = (table: TableName) => ({ table, missing: [], extra: [] });

export interface TradeLine {
  readonly id: string;
  /** Event time, epoch ms (written as ISO-8601 text). */
  readonly at: number;
  readonly price?: number;
  readonly quantity?: number;
  readonly exchange?: string;
  readonly symbol?: string;
  readonly side?: 'buy' | 'sell';
}

/** A valid unified trade event (SPEC §1) as one JSON line. */
export function tradeLine({ id, at, price = 100, quantity = 1, exchange = 'binance', symbol = 'BTC-USDT', side = 'buy' }: TradeLine): string {
  return JSON.stringify({ event_id: id, exchange, symbol, price, quantity, side, timestamp: new Date(at).toISOString() });
}

/** Writes lines joined by `\n` and returns each line's byte offset in the file. */
export function writeLines(path: string, lines: readonly string[]): number[] {
  const offsets: number[] = [];
  let offset = 0;
  for (const line of lines) {
    offsets.push(offset);
    offset += Buffer.byteLength(line, 'utf8') + 1;
  }
  writeFileSync(path, lines.map((line) => line + '\n').join(''));
  return offsets;
}

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

/** `window_start` of an alert's details, in epoch ms. */
export function alertWindowStart(alert: Row): number {
  const details = JSON.parse(alert.details as string) as Record<string, unknown>;
  return Number(toEpochMs(details.window_start));
}
