// One generated tape through jobs/all.ts as JSON Lines and as Parquet (read back with hyparquet), and through
// the single-module jobs (whale.ts, volume.ts, spread.ts), which must agree with all.ts on their own tables.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTape } from '../../connectors/sources/market-tape.js';
import { TABLES, TABLE_NAMES, type TableName } from '../../jobs/modules/tables.js';
import {
  canonicalRows, ensureBuilt, listFiles, NO_DIFFERENCE, readJsonlTable, readJsonlTables, readParquetFile, readParquetTable, readSummary,
  rowDifference, runJobOnFile, temporaryFolders, type JobName, type Summary, type Tables,
} from './detector-support.js';

const folders = temporaryFolders('coattail-detector-output');
afterAll(() => folders.removeAll());

const PARALLELISM = 2;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const QUALITY_COUNTERS = ['records_in', 'passed', 'malformed', 'incomplete', 'invalid', 'duplicate', 'late_flagged', 'inconsistent'];

let folder: string;
let tape: string;
let jsonl: { out: string; tables: Tables; summary: Summary };

beforeAll(async () => {
  ensureBuilt();
  folder = folders.make('tape');
  tape = join(folder, 'tape.jsonl');
  await writeTape({ events: 200_000, eventsPerSecond: 100, seed: 31, out: tape });
  const out = join(folder, 'all-jsonl');
  await runJobOnFile('all', tape, out, { parallelism: PARALLELISM });
  jsonl = { out, tables: readJsonlTables(out), summary: readSummary(out) };
}, 300_000);

describe('JSON Lines output of jobs/all.ts', () => {
  it('holds each table as committed *.jsonl parts with the schema columns in order and ISO-8601 UTC timestamps', () => {
    for (const table of TABLE_NAMES) {
      const files = listFiles(join(jsonl.out, table));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(file).toMatch(/^part-[^/]+\.jsonl$/);
      const schema = TABLES[table];
      const rows = jsonl.tables[table]!;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(Object.keys(row)).toEqual(schema.columns.map((column) => column.name));
        for (const column of schema.columns) if (column.type === 'timestamp') expect(row[column.name]).toMatch(ISO_UTC);
      }
    }
  });
});

describe('Parquet output of jobs/all.ts', () => {
  let out: string;
  let parquet: Tables;

  beforeAll(async () => {
    out = join(folder, 'all-parquet');
    await runJobOnFile('all', tape, out, { parallelism: PARALLELISM, format: 'parquet' });
    parquet = Object.fromEntries(await Promise.all(TABLE_NAMES.map(async (table) => [table, await readParquetTable(out, table)] as const)));
  }, 300_000);

  it('reads back through hyparquet with the same rows as the JSON Lines output', () => {
    for (const table of TABLE_NAMES) {
      expect(parquet[table]!.length).toBe(jsonl.tables[table]!.length);
      expect(rowDifference(table, parquet[table]!, jsonl.tables[table]!)).toEqual(NO_DIFFERENCE(table));
    }
    expect(readSummary(out).rows).toEqual(jsonl.summary.rows);
  });

  it('stores timestamps as timestamp columns, decoded as instants', () => {
    for (const table of TABLE_NAMES) {
      for (const column of TABLES[table].columns.filter((spec) => spec.type === 'timestamp')) {
        for (const row of parquet[table]!) expect(row[column.name]).toBeInstanceOf(Date);
      }
    }
    // The processing-time columns are real instants too: detected_at and ttl_epoch stay 24 h apart.
    for (const alert of parquet.anomaly_alerts!) {
      expect(Number(alert.ttl_epoch)).toBe(Math.floor((alert.detected_at as Date).getTime() / 1000) + 86_400);
    }
  });

  it('lays files out in date=YYYY-MM-DD folders of the partition column, with no hidden or half-written file left', () => {
    for (const table of TABLE_NAMES) {
      const files = listFiles(join(out, table));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(file).toMatch(/^date=\d{4}-\d{2}-\d{2}\/part-[^/]+\.parquet$/);
        const bytes = readFileSync(join(out, table, file));
        // A complete Parquet file starts and ends with the PAR1 magic.
        expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1');
        expect(bytes.subarray(bytes.length - 4).toString('latin1')).toBe('PAR1');
      }
    }
    expect(listFiles(out).filter((file) => file.split('/').some((part) => part.startsWith('.')))).toEqual([]);
  });

  it('puts every row in the folder of its own partition date', async () => {
    for (const table of TABLE_NAMES) {
      const partitionColumn = TABLES[table].partitionBy!;
      for (const file of listFiles(join(out, table))) {
        const date = file.slice('date='.length, 'date=YYYY-MM-DD'.length);
        for (const row of await readParquetFile(join(out, table, file))) expect((row[partitionColumn] as Date).toISOString().slice(0, 10)).toBe(date);
      }
    }
  });
});

describe('single-module jobs', () => {
  const OWN_TABLES: Record<Exclude<JobName, 'all'>, { tables: TableName[]; alertType: string; lateDropped?: string }> = {
    whale: { tables: ['whale_trades'], alertType: 'whale' },
    volume: { tables: ['volume_aggregates'], alertType: 'volume_spike', lateDropped: 'volume' },
    spread: { tables: ['exchange_spreads'], alertType: 'spread', lateDropped: 'spread' },
  };

  it.each(Object.keys(OWN_TABLES) as Array<keyof typeof OWN_TABLES>)('%s.ts writes the same rows for its own tables as all.ts', async (job) => {
    const own = OWN_TABLES[job];
    const out = join(folder, `${job}-jsonl`);
    await runJobOnFile(job, tape, out, { parallelism: PARALLELISM });
    const tables: TableName[] = [...own.tables, 'anomaly_alerts', 'dlq'];
    const mine = readJsonlTables(out, tables);
    for (const table of own.tables) {
      expect(mine[table]!.length).toBeGreaterThan(0);
      expect(canonicalRows(table, mine[table]!)).toEqual(canonicalRows(table, jsonl.tables[table]!));
    }
    const alertsOfAll = jsonl.tables.anomaly_alerts!.filter((alert) => alert.alert_type === own.alertType);
    expect(alertsOfAll.length).toBeGreaterThan(0);
    expect(canonicalRows('anomaly_alerts', mine.anomaly_alerts!)).toEqual(canonicalRows('anomaly_alerts', alertsOfAll));
    expect(canonicalRows('dlq', mine.dlq!)).toEqual(canonicalRows('dlq', jsonl.tables.dlq!));
    // Tables of the other modules are not written at all.
    for (const other of TABLE_NAMES.filter((table) => !tables.includes(table))) expect(readJsonlTable(out, other)).toEqual([]);

    const summary = readSummary(out);
    for (const counter of QUALITY_COUNTERS) expect([counter, summary[counter]]).toEqual([counter, jsonl.summary[counter]]);
    expect(summary.rows).toEqual(
      Object.fromEntries(tables.map((table) => [table, table === 'anomaly_alerts' ? alertsOfAll.length : jsonl.summary.rows?.[table]])),
    );
    if (own.lateDropped) expect(summary.late_dropped?.[own.lateDropped]).toBe(jsonl.summary.late_dropped?.[own.lateDropped]);
  });
});

describe('an empty input', () => {
  it('ends with every quality counter, late_dropped and row count at 0 in the summary, at -p 1 and -p 2', async () => {
    const empty = join(folders.make('empty'), 'empty.jsonl');
    writeFileSync(empty, '');
    for (const parallelism of [1, 2]) {
      const out = join(folders.make(`empty-p${parallelism}`), 'out');
      await runJobOnFile('all', empty, out, { parallelism });
      const summary = readSummary(out);
      for (const counter of QUALITY_COUNTERS) expect(summary[counter], `${counter} at -p ${parallelism}`).toBe(0);
      expect(summary.late_dropped).toEqual({ spread: 0, volume: 0 });
      expect(Object.values(summary.rows ?? {}).every((rows) => rows === 0)).toBe(true);
    }
  });
});
