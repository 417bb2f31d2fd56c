import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { SinkWriter } from '../../runtime/api/sink.js';
import type { TableRow, TableSchema } from '../../runtime/api/table.js';
import type { ParquetLimits } from '../../connectors/sinks/parquet-table.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { DAY_ONE, expectedJsonRow, isHidden, listFiles, sinkContext, temporaryFolder, tradeRows, tradesSchema } from './helpers.js';

let folder: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ folder, cleanup } = await temporaryFolder()));
afterEach(() => cleanup());

async function parquetWriter(schema: TableSchema = tradesSchema, limits: ParquetLimits = {}): Promise<SinkWriter<TableRow>> {
  return tableSink(schema, { parquet: limits }).create(sinkContext(folder, 'parquet'));
}

/** Rows as hyparquet gives them, made comparable with JSON Lines rows: Dates to ISO text, bigints to numbers. */
function asJsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const converted: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    converted[name] = value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? Number(value) : value;
  }
  return converted;
}

async function readParquetRows(file: string): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Record<string, unknown>[];
}

/** Every visible Parquet row of a table folder with the partition each came from. */
async function readTable(table: string): Promise<{ partition: string; row: Record<string, unknown> }[]> {
  const found: { partition: string; row: Record<string, unknown> }[] = [];
  for (const file of await listFiles(path.join(folder, table))) {
    if (isHidden(file)) continue;
    for (const row of await readParquetRows(path.join(folder, table, file))) found.push({ partition: path.dirname(file), row });
  }
  return found;
}

const byEventId = (left: { event_id?: unknown }, right: { event_id?: unknown }) =>
  String(left.event_id).localeCompare(String(right.event_id));

describe('Parquet table writer', () => {
  it('gives, read back by hyparquet, the same rows the JSON Lines writer writes', async () => {
    const rows = tradeRows(600);
    const parquet = await parquetWriter();
    await parquet.write(rows);
    expect(await parquet.finish()).toBe(600);
    const jsonl = await tableSink(tradesSchema).create(sinkContext(path.join(folder, 'jsonl'), 'jsonl'));
    await jsonl.write(rows);
    await jsonl.finish();

    const fromParquet = (await readTable('whale_trades')).map(({ row }) => asJsonRow(row)).sort(byEventId);
    const jsonlFiles = await listFiles(path.join(folder, 'jsonl', 'whale_trades'));
    const text = await readFile(path.join(folder, 'jsonl', 'whale_trades', jsonlFiles[0]!), 'utf8');
    const fromJsonl = text.trimEnd().split('\n').map((line) => JSON.parse(line)).sort(byEventId);
    expect(fromParquet).toEqual(fromJsonl);
    expect(fromParquet).toEqual(rows.map(expectedJsonRow).sort(byEventId));
  });

  it('writes with the encoder initializeGlobal compiled once for every table, and prepares nothing for JSON Lines', async () => {
    const factory = tableSink(tradesSchema);
    expect(await factory.initializeGlobal!({ outDir: folder, format: 'jsonl' })).toBeUndefined();
    const shared = (await factory.initializeGlobal!({ outDir: folder, format: 'parquet' })) as { parquetEncoder: unknown };
    expect(shared.parquetEncoder).toBeInstanceOf(WebAssembly.Module);
    // Another table of the same run gets the same compiled module, not a second compilation.
    const other = (await tableSink({ ...tradesSchema, name: 'other' }).initializeGlobal!({ outDir: folder, format: 'parquet' })) as { parquetEncoder: unknown };
    expect(other.parquetEncoder).toBe(shared.parquetEncoder);

    const rows = tradeRows(50);
    const writer = await factory.create(sinkContext(folder, 'parquet', { shared }));
    await writer.write(rows);
    expect(await writer.finish()).toBe(50);
    const read = (await readTable('whale_trades')).map(({ row }) => asJsonRow(row)).sort(byEventId);
    expect(read).toEqual(rows.map(expectedJsonRow).sort(byEventId));
  });

  it('types timestamps as UTC millisecond Parquet timestamps and each column as its schema says', async () => {
    const writer = await parquetWriter();
    await writer.write(tradeRows(20));
    await writer.finish();
    const [file] = (await listFiles(path.join(folder, 'whale_trades'))).filter((name) => !isHidden(name));
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path.join(folder, 'whale_trades', file!)));
    const columns = Object.fromEntries(metadata.schema.slice(1).map((element) => [element.name, element]));
    expect(columns.timestamp).toMatchObject({
      type: 'INT64',
      repetition_type: 'REQUIRED',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
    });
    expect(columns.received_at).toMatchObject({ type: 'INT64', repetition_type: 'OPTIONAL', logical_type: { type: 'TIMESTAMP' } });
    expect(columns.trade_count).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED' });
    expect(columns.trade_count!.logical_type).toBeUndefined();
    expect(columns.price).toMatchObject({ type: 'DOUBLE', repetition_type: 'REQUIRED' });
    expect(columns.is_buy).toMatchObject({ type: 'BOOLEAN', repetition_type: 'OPTIONAL' });
    expect(columns.event_id).toMatchObject({ type: 'BYTE_ARRAY', logical_type: { type: 'STRING' } });
    expect(columns.details).toMatchObject({ type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', logical_type: { type: 'STRING' } });
    expect(metadata.row_groups[0]!.columns[0]!.meta_data!.codec).toBe('SNAPPY');
    const [first] = await readParquetRows(path.join(folder, 'whale_trades', file!));
    expect(first!.timestamp).toBeInstanceOf(Date);
  });

  it('writes Hive-style date partitions from the UTC date of the partition column', async () => {
    const rows = tradeRows(300);
    const writer = await parquetWriter();
    await writer.write(rows);
    await writer.finish();
    const found = await readTable('whale_trades');
    expect(new Set(found.map(({ partition }) => partition))).toEqual(
      new Set(['date=2024-03-01', 'date=2024-03-02', 'date=2024-03-03']),
    );
    for (const { partition, row } of found) {
      expect(partition).toBe(`date=${(row.timestamp as Date).toISOString().slice(0, 10)}`);
    }
    expect(found).toHaveLength(300);
  });

  it('writes flat files when the table has no partition column, and a default partition for null dates', async () => {
    const flatSchema: TableSchema = { ...tradesSchema, name: 'flat', partitionBy: undefined };
    const flat = await parquetWriter(flatSchema);
    await flat.write(tradeRows(10));
    await flat.finish();
    expect((await listFiles(path.join(folder, 'flat'))).every((file) => !file.includes('/'))).toBe(true);

    const byReceived: TableSchema = { ...tradesSchema, name: 'by_received', partitionBy: 'received_at' };
    const partitioned = await parquetWriter(byReceived);
    await partitioned.write(tradeRows(4));
    await partitioned.finish();
    const partitions = (await readTable('by_received')).map(({ partition, row }) => [partition, row.event_id]);
    expect(partitions.sort()).toEqual([
      ['date=2024-03-01', 'evt-1'],
      ['date=2024-03-01', 'evt-3'],
      ['date=__HIVE_DEFAULT_PARTITION__', 'evt-0'],
      ['date=__HIVE_DEFAULT_PARTITION__', 'evt-2'],
    ]);
  });

  it('rolls to a new part every maxRowsPerPart rows of a partition and keeps every row', async () => {
    const rows = tradeRows(2_000);
    const writer = await parquetWriter(tradesSchema, { maxRowsPerPart: 150 });
    for (let start = 0; start < rows.length; start += 333) await writer.write(rows.slice(start, start + 333));
    expect(await writer.finish()).toBe(2_000);
    const files = await listFiles(path.join(folder, 'whale_trades'));
    expect(files.length).toBeGreaterThanOrEqual(Math.ceil(2_000 / 150));
    for (const file of files) {
      expect((await readParquetRows(path.join(folder, 'whale_trades', file))).length).toBeLessThanOrEqual(150);
    }
    const found = (await readTable('whale_trades')).map(({ row }) => asJsonRow(row)).sort(byEventId);
    expect(found).toEqual(rows.map(expectedJsonRow).sort(byEventId));
  });

  it('bounds the rows buffered over all partitions, not only per partition', async () => {
    // 120 days of one row each with parts of 10 rows: 120 partitions that never fill alone. Buffered until the next
    // checkpoint, a bounded run over 120 days of tape held every row of its tables (1.1 GiB at -p 2).
    const rows = tradeRows(120).map((row, day) => ({ ...row, timestamp: DAY_ONE + day * 86_400_000 }));
    const writer = await parquetWriter(tradesSchema, { maxRowsPerPart: 10 });
    for (const row of rows) await writer.write([row]);
    const inProgress = await listFiles(path.join(folder, 'whale_trades'));
    expect(inProgress.length).toBeGreaterThanOrEqual(11); // written as in-progress parts, not held
    expect(inProgress.every(isHidden)).toBe(true);
    expect(await writer.finish()).toBe(120);
    const found = await readTable('whale_trades');
    expect(found).toHaveLength(120);
    expect(new Set(found.map(({ partition }) => partition)).size).toBe(120);
  });

  it('rolls early when long strings fill the character budget', async () => {
    const rows = tradeRows(40).map((row) => ({ ...row, note: 'x'.repeat(10_000) }));
    const writer = await parquetWriter(tradesSchema, { maxBufferedChars: 50_000 });
    await writer.write(rows);
    await writer.finish();
    expect((await listFiles(path.join(folder, 'whale_trades'))).length).toBeGreaterThanOrEqual(6);
    expect(await readTable('whale_trades')).toHaveLength(40);
  });

  it('round-trips text made only of multi-byte characters', async () => {
    const rows = tradeRows(20).map((row, index) => ({ ...row, note: '€🐋'.repeat(index * 50), event_id: `é-${index}` }));
    const writer = await parquetWriter();
    await writer.write(rows);
    await writer.finish();
    const found = (await readTable('whale_trades')).map(({ row }) => asJsonRow(row)).sort(byEventId);
    expect(found).toEqual(rows.map(expectedJsonRow).sort(byEventId));
  });

  it('shows only hidden files before a commit and the parts after it', async () => {
    const writer = await parquetWriter(tradesSchema, { maxRowsPerPart: 10 });
    await writer.write(tradeRows(45));
    const beforePrepare = await listFiles(path.join(folder, 'whale_trades'));
    expect(beforePrepare.length).toBeGreaterThan(0);
    expect(beforePrepare.every(isHidden)).toBe(true);
    const pending = await writer.prepareCommit(3);
    expect((await listFiles(path.join(folder, 'whale_trades'))).every(isHidden)).toBe(true);
    await writer.commit(pending);
    await writer.commit(pending);
    const after = await listFiles(path.join(folder, 'whale_trades'));
    expect(after.some(isHidden)).toBe(false);
    expect(after.every((file) => /^date=\d{4}-\d{2}-\d{2}\/part-0-a1-\d{5}\.parquet$/.test(file))).toBe(true);
    expect(await readTable('whale_trades')).toHaveLength(45);
  });

  it('leaves an empty table folder and writes no file for a table without rows', async () => {
    const writer = await parquetWriter();
    expect(await writer.finish()).toBe(0);
    expect(await listFiles(path.join(folder, 'whale_trades'))).toEqual([]);
  });

  it('rejects a value of the wrong type and a fractional int64', async () => {
    const writer = await parquetWriter(tradesSchema, { maxRowsPerPart: 1 });
    expect(() => writer.write([{ ...tradeRows(1)[0]!, price: 'cheap' }])).toThrow(/column price is double/);
    expect(() => writer.write([{ ...tradeRows(1)[0]!, trade_count: 1.5 }])).toThrow(/column trade_count is int64/);
    expect(() => writer.write([{ ...tradeRows(1)[0]!, event_id: null }])).toThrow(/event_id is not nullable/);
  });

  it('keeps timestamps before 1970 and large int64 values exact', async () => {
    const schema: TableSchema = {
      name: 'edges',
      columns: [
        { name: 'at', type: 'timestamp' },
        { name: 'big', type: 'int64' },
      ],
      partitionBy: 'at',
    };
    const writer = await parquetWriter(schema);
    await writer.write([
      { at: -86_400_001, big: -(2 ** 53) + 1 },
      { at: DAY_ONE, big: 2 ** 40 + 7 },
    ]);
    await writer.finish();
    const found = (await readTable('edges')).map(({ partition, row }) => [partition, (row.at as Date).getTime(), row.big]);
    expect(found.sort()).toEqual([
      ['date=1969-12-30', -86_400_001, BigInt(-(2 ** 53) + 1)],
      ['date=2024-03-01', DAY_ONE, BigInt(2 ** 40 + 7)],
    ]);
  });

  it('names the partition of a day outside the years 0000-9999 by its whole date', async () => {
    // A 7-minute window over trades of 0000-01-01 00:0x starts in the year -1; a user's table may hold any
    // timestamp a date can name. Ten characters of the ISO text cut these dates to `-000001-12` and `+010000-01`.
    const schema: TableSchema = { name: 'far', columns: [{ name: 'at', type: 'timestamp' }], partitionBy: 'at' };
    const yearMinusOneLastMinute = -62_167_219_260_000; // -000001-12-31T23:59:00Z, a minute before 0000-01-01
    const writer = await parquetWriter(schema);
    await writer.write([{ at: yearMinusOneLastMinute }, { at: 253_402_300_800_000 }, { at: -8.64e15 }, { at: 8.64e15 }]);
    await writer.finish();
    const found = (await readTable('far')).map(({ partition, row }) => [partition, (row.at as Date).getTime()]);
    expect(found.sort()).toEqual(
      [
        ['date=-000001-12-31', yearMinusOneLastMinute],
        ['date=-271821-04-20', -8.64e15],
        ['date=+010000-01-01', 253_402_300_800_000],
        ['date=+275760-09-13', 8.64e15],
      ].sort(),
    );
  });
});
