/**
 * Reads a coattail run's output (JSON Lines or Parquet) and compares it with the spec oracle: every table
 * row by row as multisets keyed by what identifies a row, numbers of sums/VWAPs/z-scores with a relative
 * tolerance of 1e-9, everything else exactly; processing-time fields and alert ids for form only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import type { OracleResult, OracleTables } from './spec-oracle.js';

export type Row = Record<string, unknown>;
export type TableName = keyof OracleTables;
export const TABLES: readonly TableName[] = ['volume_aggregates', 'exchange_spreads', 'whale_trades', 'anomaly_alerts', 'dlq'];

/** Per table: the columns SPEC §5/§6 name, which hold times, which are compared with tolerance. */
interface TableSpec {
  readonly columns: readonly string[];
  readonly times: readonly string[];
  readonly tolerant: readonly string[];
  /** Columns compared for form only (processing time, ids, words). */
  readonly formOnly: readonly string[];
  /** Partition column of Parquet tables (decisions §8). */
  readonly partitionBy: string;
}

const TABLE_SPECS: Record<TableName, TableSpec> = {
  volume_aggregates: {
    columns: ['symbol', 'exchange', 'window_start', 'window_end', 'trade_count', 'total_volume', 'avg_price', 'max_price', 'min_price', 'buy_volume', 'sell_volume'],
    times: ['window_start', 'window_end'],
    tolerant: ['total_volume', 'avg_price', 'buy_volume', 'sell_volume'],
    formOnly: [],
    partitionBy: 'window_start',
  },
  exchange_spreads: {
    columns: ['symbol', 'window_start', 'window_end', 'exchange_a', 'exchange_b', 'vwap_a', 'vwap_b', 'spread_pct'],
    times: ['window_start', 'window_end'],
    tolerant: ['vwap_a', 'vwap_b', 'spread_pct'],
    formOnly: [],
    partitionBy: 'window_start',
  },
  whale_trades: {
    columns: ['event_id', 'symbol', 'exchange', 'price', 'quantity', 'quote_volume', 'side', 'timestamp', 'severity'],
    times: ['timestamp'],
    tolerant: ['quote_volume'],
    formOnly: [],
    partitionBy: 'timestamp',
  },
  anomaly_alerts: {
    columns: ['alert_id', 'alert_type', 'module_id', 'symbol', 'exchange', 'severity', 'detected_at', 'message', 'ttl_epoch', 'details'],
    times: [],
    tolerant: [],
    formOnly: ['alert_id', 'detected_at', 'message', 'ttl_epoch'],
    partitionBy: 'detected_at',
  },
  dlq: {
    columns: ['reason', 'error', 'raw', 'source', 'offset', 'received_at'],
    times: [],
    tolerant: [],
    formOnly: ['error', 'received_at'],
    partitionBy: 'received_at',
  },
};

const DETAIL_TIMES = new Set(['window_start']);
const DETAIL_TOLERANT = new Set(['z_score', 'window_volume', 'rolling_mean', 'rolling_stddev', 'spread_pct', 'exchange_a_vwap', 'exchange_b_vwap', 'quote_volume']);

// ---------------------------------------------------------------------------------------------
// Reading

function listFiles(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((file) => !file.split('/').some((part) => part.startsWith('.'))) // hidden = not committed
    .sort();
}

function readJsonl(out: string, table: TableName): Row[] {
  const folder = join(out, table);
  return listFiles(folder)
    .filter((file) => file.endsWith('.jsonl'))
    .flatMap((file) => readFileSync(join(folder, file), 'utf8').split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as Row));
}

/** hyparquet's default string decoder strips a leading BOM, which SPEC keeps in `raw` (decisions §8). */
const BOM_KEEPING = new TextDecoder('utf-8', { ignoreBOM: true });

/** Parquet rows; also checks each file sits in the `date=` partition of its rows (decisions §8). */
async function readParquet(out: string, table: TableName): Promise<Row[]> {
  const folder = join(out, table);
  const rows: Row[] = [];
  for (const file of listFiles(folder).filter((f) => f.endsWith('.parquet'))) {
    const fileRows = (await parquetReadObjects({ file: await asyncBufferFromFile(join(folder, file)), parsers: { stringFromBytes: (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : BOM_KEEPING.decode(bytes)) } })) as Row[];
    const partition = /(?:^|\/)date=([+-]?\d{4,6}-\d{2}-\d{2})\//.exec(file)?.[1];
    for (const row of fileRows) {
      const iso = new Date(toMs(row[TABLE_SPECS[table].partitionBy])).toISOString();
      const day = iso.slice(0, iso.indexOf('T')); // years outside 0000-9999 are written -000001 / +010000
      if (partition !== day) throw new Error(`${table}/${file}: a row of ${day} in partition ${partition ?? '(none)'}`);
    }
    rows.push(...fileRows);
  }
  return rows;
}

export async function readTables(out: string, format: 'jsonl' | 'parquet'): Promise<Record<TableName, Row[]>> {
  const entries = await Promise.all(TABLES.map(async (table) => [table, format === 'jsonl' ? readJsonl(out, table) : await readParquet(out, table)] as const));
  return Object.fromEntries(entries) as Record<TableName, Row[]>;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Epoch ms of an ISO string (JSONL), a Date (Parquet timestamp) or a number. */
export function toMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return Date.parse(value);
  return Number.NaN;
}

const plain = (value: unknown): unknown => (typeof value === 'bigint' ? Number(value) : value);

function close(actual: unknown, expected: unknown): boolean {
  if (typeof actual !== 'number' || typeof expected !== 'number') return false;
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(actual), Math.abs(expected));
}

/** Differences of one value, described; empty when equal. */
function valueDifference(name: string, actual: unknown, expected: unknown, kind: 'time' | 'tolerant' | 'exact'): string[] {
  const a = plain(actual);
  const same = kind === 'time' ? toMs(a) === expected : kind === 'tolerant' ? close(a, expected) : a === expected;
  return same ? [] : [`${name}: got ${JSON.stringify(a)}, expected ${JSON.stringify(expected)}`];
}

function detailsDifference(actual: unknown, expected: Record<string, unknown>): string[] {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(String(actual)) as Record<string, unknown>;
  } catch {
    return [`details: not JSON text: ${String(actual)}`];
  }
  return Object.entries(expected).flatMap(([key, value]) =>
    valueDifference(`details.${key}`, parsed[key], value, DETAIL_TIMES.has(key) ? 'time' : DETAIL_TOLERANT.has(key) ? 'tolerant' : 'exact'),
  );
}

/** Differences between an engine row and the oracle's row of the same key. */
function rowDifference(table: TableName, actual: Row, expected: Record<string, unknown>): string[] {
  const spec = TABLE_SPECS[table];
  const missing = spec.columns.filter((column) => !Object.hasOwn(actual, column)).map((column) => `missing column ${column}`);
  const values = Object.entries(expected).flatMap(([name, value]) => {
    if (name === 'details') return detailsDifference(actual.details, value as Record<string, unknown>);
    const kind = spec.times.includes(name) ? 'time' : spec.tolerant.includes(name) ? 'tolerant' : 'exact';
    return valueDifference(name, actual[name], value, kind);
  });
  return [...missing, ...values];
}

// ---------------------------------------------------------------------------------------------
// Keys: what identifies a row, from fields compared exactly

function detailsOf(row: Row): Record<string, unknown> {
  if (typeof row.details === 'string') {
    try {
      return JSON.parse(row.details) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  return (row.details ?? {}) as Record<string, unknown>;
}

/** The identity of an alert: type and key, plus the window start or the whale's trade. */
export function alertKey(row: Row): string {
  const d = detailsOf(row);
  const what = row.alert_type === 'whale' ? [d.event_id, d.price, d.quantity] : [toMs(d.window_start)];
  return JSON.stringify([row.alert_type, row.symbol, row.exchange ?? null, ...what]);
}

const KEYS: Record<TableName, (row: Row) => string> = {
  volume_aggregates: (r) => JSON.stringify([r.symbol, r.exchange, toMs(r.window_start)]),
  exchange_spreads: (r) => JSON.stringify([r.symbol, toMs(r.window_start)]),
  whale_trades: (r) => JSON.stringify([r.event_id, toMs(r.timestamp)]),
  anomaly_alerts: alertKey,
  dlq: (r) => JSON.stringify([String(r.offset)]),
};

function group(rows: readonly Row[], key: (row: Row) => string): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) groups.set(key(row), [...(groups.get(key(row)) ?? []), row]);
  return groups;
}

/** Every difference between a table of the engine and the oracle's, described (empty when equal). */
export function tableDifferences(table: TableName, actual: readonly Row[], expected: readonly Row[]): string[] {
  const key = KEYS[table];
  const got = group(actual, key);
  const want = group(expected, key);
  const out: string[] = [];
  for (const [k, rows] of want) {
    const engineRows = got.get(k) ?? [];
    if (engineRows.length !== rows.length) out.push(`${table} ${k}: ${engineRows.length} rows, expected ${rows.length}`);
    rows.forEach((row, i) => {
      const engineRow = engineRows[i];
      if (engineRow !== undefined) out.push(...rowDifference(table, engineRow, row).map((d) => `${table} ${k}: ${d}`));
    });
  }
  for (const [k, rows] of got) if (!want.has(k)) out.push(`${table} ${k}: ${rows.length} unexpected rows, e.g. ${JSON.stringify(rows[0]).slice(0, 400)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Form of the fields the oracle cannot know

const isTime = (value: unknown): boolean => Number.isFinite(toMs(value)) && (typeof value === 'string' || value instanceof Date);

/** Problems with processing-time fields, messages, errors and alert id uniqueness. */
export function formProblems(tables: Record<TableName, Row[]>): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const alert of tables.anomaly_alerts) {
    const where = `alert ${alertKey(alert)}`;
    if (typeof alert.alert_id !== 'string' || alert.alert_id.length === 0) problems.push(`${where}: alert_id ${String(alert.alert_id)}`);
    else if (ids.has(alert.alert_id)) problems.push(`${where}: alert_id ${alert.alert_id} used twice`);
    else ids.add(alert.alert_id);
    if (!isTime(alert.detected_at)) problems.push(`${where}: detected_at ${String(alert.detected_at)}`);
    const ttl = Number(plain(alert.ttl_epoch));
    if (Math.abs(ttl - (toMs(alert.detected_at) / 1000 + 86_400)) > 1) problems.push(`${where}: ttl_epoch ${ttl} is not detected_at + 24 h`);
    if (typeof alert.message !== 'string' || alert.message.trim().length === 0) problems.push(`${where}: empty message`);
  }
  for (const row of tables.dlq) {
    if (typeof row.error !== 'string' || row.error.length === 0) problems.push(`dlq ${String(row.offset)}: empty error`);
    if (!isTime(row.received_at)) problems.push(`dlq ${String(row.offset)}: received_at ${String(row.received_at)}`);
  }
  return problems;
}

/** alert key -> alert_id, to check ids are the same at every parallelism. */
export function alertIds(alerts: readonly Row[]): Map<string, unknown> {
  return new Map(alerts.map((alert) => [alertKey(alert), alert.alert_id]));
}

// ---------------------------------------------------------------------------------------------
// Summary

export function summaryDifferences(summary: Record<string, unknown>, oracle: OracleResult, tables: Record<TableName, Row[]>): string[] {
  const out: string[] = [];
  const c = oracle.counters;
  const flat = { records_in: c.records_in, passed: c.passed, malformed: c.malformed, incomplete: c.incomplete, invalid: c.invalid, duplicate: c.duplicate, late_flagged: c.late_flagged, inconsistent: c.inconsistent };
  for (const [name, value] of Object.entries(flat)) if (summary[name] !== value) out.push(`summary ${name}: ${String(summary[name])}, expected ${value}`);
  const late = (summary.late_dropped ?? {}) as Record<string, unknown>;
  for (const [job, value] of Object.entries(c.late_dropped)) if (late[job] !== value) out.push(`summary late_dropped.${job}: ${String(late[job])}, expected ${value}`);
  const rows = (summary.rows ?? {}) as Record<string, unknown>;
  for (const table of TABLES) {
    if (rows[table] !== oracle.rows[table]) out.push(`summary rows.${table}: ${String(rows[table])}, expected ${oracle.rows[table]}`);
    if (tables[table].length !== oracle.rows[table]) out.push(`${table}: ${tables[table].length} rows read, expected ${oracle.rows[table]}`);
  }
  if (c.records_in !== c.passed + c.malformed + c.incomplete + c.invalid + c.duplicate) out.push('oracle: records_in does not add up');
  return out;
}
