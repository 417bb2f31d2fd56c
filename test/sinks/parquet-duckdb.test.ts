// DuckDB reads the Parquet tables of jobs/all.ts as a user would: read_parquet over the Hive partitions of each
// table. Checked against the JSON Lines output of the same tape: columns and their DuckDB types, every value,
// the `date=` partition column, typical queries, and that the glob only ever finds committed part files.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DuckDBConnection, DuckDBDateValue, DuckDBInstance, DuckDBTimestampTZValue, type DuckDBValue,
} from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ColumnType, TableRow } from '../../runtime/api/table.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { TABLES, TABLE_NAMES, WHALE_TRADES, type TableName } from '../../jobs/modules/tables.js';
import {
  ensureBuilt, listFiles, PROCESSING_TIME_COLUMNS, readJsonlTables, readSummary, runCoattail, runJobOnFile, temporaryFolders,
  type Row, type Tables,
} from '../e2e/detector-support.js';
import { sinkContext } from './helpers.js';

/** Column names and order SPEC §6 gives for three tables (the other two are defined in SPEC §5). */
const SPEC_COLUMNS: Partial<Record<TableName, string[]>> = {
  volume_aggregates: ['symbol', 'exchange', 'window_start', 'window_end', 'trade_count', 'total_volume', 'avg_price', 'max_price',
    'min_price', 'buy_volume', 'sell_volume'],
  exchange_spreads: ['symbol', 'window_start', 'window_end', 'exchange_a', 'exchange_b', 'vwap_a', 'vwap_b', 'spread_pct'],
  whale_trades: ['event_id', 'symbol', 'exchange', 'price', 'quantity', 'quote_volume', 'side', 'timestamp', 'severity'],
};

/** The DuckDB type each column type must read back as: timestamps are instants, not numbers or text. */
const DUCKDB_TYPES: Record<ColumnType, string> = {
  string: 'VARCHAR',
  json: 'VARCHAR',
  double: 'DOUBLE',
  int64: 'BIGINT',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
};

/** Not UTC, and on the previous day for the first hours of a UTC day: a reader depending on it would show. */
const SESSION_TIME_ZONE = 'America/New_York';
const PARALLELISM = 2;

const folders = temporaryFolders('coattail-duckdb');
let duckdb: DuckDBInstance;
let connection: DuckDBConnection;
let parquetOut: string;
let jsonl: Tables;
/** Wall-clock bounds of the Parquet run, which its processing-time columns must fall in. */
let parquetRun: { startMs: number; endMs: number };

async function query(sql: string, ...values: DuckDBValue[]): Promise<Record<string, DuckDBValue>[]> {
  return (await connection.runAndReadAll(sql, values)).getRowObjects();
}

function tableGlob(table: string): string {
  return join(parquetOut, table, '**', '*.parquet');
}

const READ_TABLE = 'read_parquet($1, hive_partitioning = true)';

/** Epoch ms of a DuckDB TIMESTAMPTZ value; fails on sub-millisecond parts, which the writer never produces. */
function epochMs(value: DuckDBValue): number {
  if (!(value instanceof DuckDBTimestampTZValue)) throw new Error(`expected a TIMESTAMPTZ value, got ${String(value)}`);
  expect(value.micros % 1000n).toBe(0n);
  return Number(value.micros / 1000n);
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A DuckDB row in the JSON Lines row's terms: timestamps as epoch ms, BIGINT as number. */
function fromDuckdb(table: TableName, row: Record<string, DuckDBValue>): Row {
  const converted: Row = {};
  for (const column of TABLES[table].columns) {
    const value = row[column.name];
    if (value === null || value === undefined) converted[column.name] = null;
    else if (column.type === 'timestamp') converted[column.name] = epochMs(value);
    else if (typeof value === 'bigint') {
      expect(Number.isSafeInteger(Number(value))).toBe(true);
      converted[column.name] = Number(value);
    } else converted[column.name] = value;
  }
  return converted;
}

/** A JSON Lines row with its ISO-8601 timestamps as epoch ms. */
function fromJsonl(table: TableName, row: Row): Row {
  const converted: Row = {};
  for (const column of TABLES[table].columns) {
    const value = row[column.name] ?? null;
    converted[column.name] = column.type === 'timestamp' && typeof value === 'string' ? Date.parse(value) : value;
  }
  return converted;
}

/** Rows as sorted JSON texts of the columns both runs share (processing time differs from run to run). */
function comparable(table: TableName, rows: readonly Row[]): string[] {
  const columns = TABLES[table].columns.map((column) => column.name).filter((name) => !PROCESSING_TIME_COLUMNS.has(name));
  return rows.map((row) => JSON.stringify(columns.map((name) => row[name]))).sort();
}

async function duckdbRows(table: TableName): Promise<Record<string, DuckDBValue>[]> {
  return query(`SELECT * FROM ${READ_TABLE}`, tableGlob(table));
}

beforeAll(async () => {
  ensureBuilt();
  const folder = folders.make('tape');
  const tape = join(folder, 'tape.jsonl');
  // One event a second from 10:00 UTC: 60,000 events run past midnight, so event-time tables span two `date=` partitions.
  const generated = await runCoattail(['generate', '--events', '60000', '--rate', '1', '--seed', '11', '--bad-rate', '0.01', '--out', tape]);
  expect(generated.code, generated.stderr).toBe(0);

  const jsonlOut = join(folder, 'jsonl');
  await runJobOnFile('all', tape, jsonlOut, { parallelism: PARALLELISM, format: 'jsonl' });
  jsonl = readJsonlTables(jsonlOut);

  parquetOut = join(folder, 'parquet');
  const startMs = Date.now();
  await runJobOnFile('all', tape, parquetOut, { parallelism: PARALLELISM, format: 'parquet' });
  parquetRun = { startMs, endMs: Date.now() };

  duckdb = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  connection = await duckdb.connect();
  await connection.run(`SET TimeZone = '${SESSION_TIME_ZONE}'`);
}, 300_000);

afterAll(() => {
  connection?.closeSync();
  duckdb?.closeSync();
  folders.removeAll();
});

describe('DuckDB reading the Parquet tables of jobs/all.ts', () => {
  it('runs in a session time zone other than UTC', async () => {
    expect(await query(`SELECT current_setting('TimeZone') AS zone`)).toEqual([{ zone: SESSION_TIME_ZONE }]);
  });

  it('reads every table with its columns in SPEC order, typed, plus the DATE partition column', async () => {
    for (const table of TABLE_NAMES) {
      const described = await query(`DESCRIBE SELECT * FROM ${READ_TABLE}`, tableGlob(table));
      const columns = TABLES[table].columns;
      expect(described.map((column) => column.column_name), table).toEqual([...columns.map((column) => column.name), 'date']);
      const specColumns = SPEC_COLUMNS[table];
      if (specColumns !== undefined) expect(columns.map((column) => column.name)).toEqual(specColumns);
      expect(described.map((column) => column.column_type), table).toEqual([...columns.map((column) => DUCKDB_TYPES[column.type]), 'DATE']);
    }
  });

  it('counts as many rows per table as the JSON Lines output and _summary.json', async () => {
    const summary = readSummary(parquetOut);
    for (const table of TABLE_NAMES) {
      const [{ rows }] = (await query(`SELECT count(*) AS rows FROM ${READ_TABLE}`, tableGlob(table))) as [{ rows: bigint }];
      expect(jsonl[table]!.length, table).toBeGreaterThan(0);
      expect(Number(rows), table).toBe(jsonl[table]!.length);
      expect(summary.rows?.[table], table).toBe(jsonl[table]!.length);
    }
  });

  it('gives every row with the values of the JSON Lines row, timestamps to the millisecond and doubles exactly', async () => {
    for (const table of TABLE_NAMES) {
      const fromParquet = (await duckdbRows(table)).map((row) => fromDuckdb(table, row));
      const expected = jsonl[table]!.map((row) => fromJsonl(table, row));
      expect(comparable(table, fromParquet), table).toEqual(comparable(table, expected));
    }
  });

  it('gives processing-time columns as instants of the run itself', async () => {
    const inRun = (ms: number) => ms >= parquetRun.startMs && ms <= parquetRun.endMs;
    for (const row of (await duckdbRows('dlq')).map((duckdbRow) => fromDuckdb('dlq', duckdbRow))) {
      expect(inRun(row.received_at as number), `received_at ${String(row.received_at)}`).toBe(true);
    }
    for (const row of (await duckdbRows('anomaly_alerts')).map((duckdbRow) => fromDuckdb('anomaly_alerts', duckdbRow))) {
      expect(inRun(row.detected_at as number), `detected_at ${String(row.detected_at)}`).toBe(true);
      expect(row.ttl_epoch).toBe(Math.floor((row.detected_at as number) / 1000) + 86_400);
    }
  });

  it("puts each row in the `date=` partition of the UTC day of the table's partition column", async () => {
    for (const table of TABLE_NAMES) {
      const column = TABLES[table].partitionBy!;
      for (const row of await duckdbRows(table)) {
        const date = row.date;
        expect(date).toBeInstanceOf(DuckDBDateValue);
        expect(String(date), table).toBe(utcDate(epochMs(row[column]!)));
      }
      // The same in SQL, as a user would check it: the UTC day, whatever the session's zone.
      const [{ misplaced }] = (await query(
        `SELECT count(*) AS misplaced FROM ${READ_TABLE} WHERE date <> CAST(timezone('UTC', "${column}") AS DATE)`,
        tableGlob(table),
      )) as [{ misplaced: bigint }];
      expect(misplaced, table).toBe(0n);
    }
    // The tape crosses midnight UTC: the event-time tables really are split over two days.
    const days = new Set(jsonl.volume_aggregates!.map((row) => String(row.window_start).slice(0, 10)));
    expect(days.size).toBe(2);
    const partitions = await query(`SELECT DISTINCT date::VARCHAR AS day FROM ${READ_TABLE} ORDER BY day`, tableGlob('volume_aggregates'));
    expect(partitions.map((row) => row.day)).toEqual([...days].sort());
  });

  it('answers the queries a user would run: group by, a filter on date=, a time range', async () => {
    const volume = jsonl.volume_aggregates!;
    const perSymbol = new Map<string, { windows: number; trades: number }>();
    for (const row of volume) {
      const entry = perSymbol.get(row.symbol as string) ?? { windows: 0, trades: 0 };
      entry.windows++;
      entry.trades += row.trade_count as number;
      perSymbol.set(row.symbol as string, entry);
    }
    const grouped = await query(
      `SELECT symbol, count(*) AS windows, sum(trade_count) AS trades FROM ${READ_TABLE} GROUP BY ALL ORDER BY symbol`,
      tableGlob('volume_aggregates'),
    );
    expect(grouped.map((row) => [row.symbol, Number(row.windows), Number(row.trades)])).toEqual(
      [...perSymbol].sort(([left], [right]) => left.localeCompare(right)).map(([symbol, { windows, trades }]) => [symbol, windows, trades]),
    );

    const lastDay = volume.map((row) => String(row.window_start).slice(0, 10)).sort().at(-1)!;
    const onLastDay = volume.filter((row) => String(row.window_start).startsWith(lastDay)).length;
    expect(onLastDay).toBeGreaterThan(0);
    const [byPartition] = await query(`SELECT count(*) AS rows FROM ${READ_TABLE} WHERE date = $2::DATE`, tableGlob('volume_aggregates'), lastDay);
    expect(Number(byPartition!.rows)).toBe(onLastDay);
    const [byRange] = await query(
      `SELECT count(*) AS rows FROM ${READ_TABLE} WHERE window_start >= ($2 || ' 00:00:00+00')::TIMESTAMPTZ`,
      tableGlob('volume_aggregates'),
      lastDay,
    );
    expect(Number(byRange!.rows)).toBe(onLastDay);

    const whalesBySeverity = await query(
      `SELECT severity, count(*) AS whales FROM ${READ_TABLE} GROUP BY ALL ORDER BY severity`,
      tableGlob('whale_trades'),
    );
    const severities = jsonl.whale_trades!.map((row) => row.severity as string);
    expect(whalesBySeverity.map((row) => [row.severity, Number(row.whales)])).toEqual(
      [...new Set(severities)].sort().map((severity) => [severity, severities.filter((other) => other === severity).length]),
    );
  });

  it('globs only committed part files in date= folders, never hidden names or _summary.json', async () => {
    expect(existsSync(join(parquetOut, '_summary.json'))).toBe(true);
    const everyTable: string[] = [];
    for (const table of TABLE_NAMES) {
      const globbed = (await query('SELECT file FROM glob($1) ORDER BY file', tableGlob(table))).map((row) => String(row.file));
      expect(globbed.length, table).toBeGreaterThan(0);
      for (const file of globbed) {
        const relative = file.slice(join(parquetOut, table).length + 1);
        expect(relative).toMatch(/^date=\d{4}-\d{2}-\d{2}\/part-[^/]+\.parquet$/);
        expect(relative.split('/').some((segment) => segment.startsWith('.') || segment.startsWith('_'))).toBe(false);
      }
      // Every file on disk that is not hidden is what the glob found: nothing committed is missed either.
      const visible = listFiles(join(parquetOut, table)).filter((file) => !file.split('/').some((part) => part.startsWith('.')));
      expect(globbed.map((file) => file.slice(join(parquetOut, table).length + 1))).toEqual(visible);
      const read = await query(`SELECT DISTINCT filename FROM read_parquet($1, hive_partitioning = true, filename = true) ORDER BY filename`, tableGlob(table));
      expect(read.map((row) => String(row.filename))).toEqual(globbed);
      everyTable.push(...globbed);
    }
    const wholeOutput = (await query('SELECT file FROM glob($1) ORDER BY file', join(parquetOut, '**', '*.parquet'))).map((row) => String(row.file));
    expect(wholeOutput).toEqual(everyTable.sort());
  });
});

describe('DuckDB and parts still being written', () => {
  it('finds no file of a table whose parts are in progress or pending, and all its rows once committed', async () => {
    const folder = folders.make('in-progress');
    const glob = join(folder, WHALE_TRADES.name, '**', '*.parquet');
    const writer = await tableSink(WHALE_TRADES, { parquet: { maxRowsPerPart: 10 } }).create(sinkContext(folder, 'parquet'));
    const day = Date.UTC(2025, 1, 5);
    const rows: TableRow[] = Array.from({ length: 25 }, (_, index) => ({
      event_id: `whale-${index}`, symbol: 'BTC-USDT', exchange: 'binance', price: 97_000.5 + index, quantity: 2 + index / 4,
      quote_volume: (97_000.5 + index) * (2 + index / 4), side: index % 2 === 0 ? 'buy' : 'sell', timestamp: day + index * 3_600_000,
      severity: 'high',
    }));
    const globbed = async () => (await query('SELECT file FROM glob($1)', glob)).map((row) => String(row.file));

    await writer.write(rows); // two full parts of 10 rows are written, under hidden in-progress names
    const inProgress = listFiles(join(folder, WHALE_TRADES.name));
    expect(inProgress.length).toBeGreaterThan(0);
    for (const file of inProgress) expect(file.split('/').at(-1)).toMatch(/^\.part-.*\.inprogress$/);
    expect(await globbed()).toEqual([]);

    const pending = await writer.prepareCommit(1); // the rest is flushed; every part is pending, still hidden
    expect(await globbed()).toEqual([]);
    await expect(query(`SELECT count(*) FROM ${READ_TABLE}`, glob)).rejects.toThrow(/No files found/);

    await writer.commit(pending);
    expect((await globbed()).length).toBeGreaterThan(0);
    const [{ rows: committed }] = (await query(`SELECT count(*) AS rows FROM ${READ_TABLE}`, glob)) as [{ rows: bigint }];
    expect(Number(committed)).toBe(rows.length);
  });
});
